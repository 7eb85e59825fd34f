"""Autoencoder inputs: ROI-centred crops of the pre-processed CT (abdomen window) and the mask."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
import SimpleITK as sitk

from core.errors import RadNomoError
from core.io.processes import worker_pool
from core.imaging.extraction.preprocess import PreprocessConfig, preprocess_case, window_normalise
from core.imaging.extraction.readers import read_case

__all__ = ["roi_crop", "case_crop", "prepare_volumes"]


def roi_crop(image: sitk.Image, mask: sitk.Image, *, crop_size: int, preprocess: PreprocessConfig) -> np.ndarray:
    """A ``(2, crop, crop, crop)`` float32 crop centred on the ROI's centre of mass.

    Channel 0 is the CT scaled by the abdomen window to [0, 1]; channel 1 the ROI mask. Both
    are taken after the study's pre-processing (1 mm resampling, HU clipping); outside the
    image the crop is padded with 0 (air after windowing, background in the mask).
    """
    image, mask = preprocess_case(image, mask, preprocess)
    ct = window_normalise(image, preprocess.window_level, preprocess.window_width)
    roi = sitk.GetArrayFromImage(mask).astype(np.float32)
    centre = np.round(np.argwhere(roi > 0).mean(axis=0)).astype(int)
    half = crop_size // 2
    out = np.zeros((2, crop_size, crop_size, crop_size), dtype=np.float32)
    source = [slice(max(c - half, 0), min(c + half, n)) for c, n in zip(centre, roi.shape, strict=True)]
    target = [slice(s.start - (c - half), s.stop - (c - half)) for s, c in zip(source, centre, strict=True)]
    out[0][tuple(target)] = ct[tuple(source)]
    out[1][tuple(target)] = roi[tuple(source)]
    return out


def case_crop(image_path: str, mask_path: str, crop_size: int, preprocess: PreprocessConfig) -> np.ndarray:
    """Read a case and return its :func:`roi_crop` (worker-friendly: plain arguments)."""
    case = read_case(image_path, mask_path)
    return roi_crop(case.image, case.mask, crop_size=crop_size, preprocess=preprocess)


def prepare_volumes(manifest: pd.DataFrame, *, crop_size: int = 64, preprocess: PreprocessConfig | None = None,
                    workers: int = 1, on_progress: Callable[[int, int], None] | None = None
                    ) -> tuple[list[str], np.ndarray]:
    """Crops of every case of a manifest (``ID``, ``Image``, ``Mask`` with absolute paths).

    Returns
    -------
    (ids, volumes)
        Case IDs in manifest order and a float16 array ``(cases, 2, crop, crop, crop)`` (float16
        halves memory; the window-scaled values need no more precision).

    Raises
    ------
    RadNomoError
        Naming the first case that cannot be read.
    """
    preprocess = preprocess or PreprocessConfig()
    ids = manifest["ID"].tolist()
    volumes = np.zeros((len(ids), 2, crop_size, crop_size, crop_size), dtype=np.float16)
    jobs = list(zip(manifest["Image"], manifest["Mask"], strict=True))
    if workers > 1:
        with worker_pool(workers) as pool:
            futures = [pool.submit(case_crop, image, mask, crop_size, preprocess) for image, mask in jobs]
            for index, future in enumerate(futures):
                volumes[index] = _result(future.result, ids[index])
                if on_progress:
                    on_progress(index + 1, len(ids))
    else:
        for index, (image, mask) in enumerate(jobs):
            volumes[index] = _result(partial(case_crop, image, mask, crop_size, preprocess), ids[index])
            if on_progress:
                on_progress(index + 1, len(ids))
    return ids, volumes


def _result(get: Callable[[], np.ndarray], case_id: str) -> np.ndarray:
    try:
        return get()
    except RadNomoError as error:
        raise RadNomoError(f"case {case_id}: {error}") from error
