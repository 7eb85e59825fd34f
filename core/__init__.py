"""RadNomo engine: extraction, selection, modelling and evaluation for CT radiomics studies.

Importing ``core`` is cheap on purpose; import the submodule you need.
"""

__version__ = "0.1.0"
