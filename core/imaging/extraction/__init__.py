"""CT feature extraction: readers, pre-processing, pyradiomics, the feature store and batch runs."""
