"""Rasterise a DICOM RTSTRUCT ROI onto its CT grid.

Written here rather than taken from rt-utils (which needs OpenCV) or plastimatch (a separate
binary): the rule is short and standard. A voxel is inside when its centre lies inside the
contour polygon on its slice; several contours on one slice combine by the even-odd rule, so
holes drawn as inner contours stay holes.
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from core.errors import RadNomoError
from core.imaging.extraction.labels import choose_by_name

__all__ = ["rasterize_rtstruct", "points_in_polygon"]


def points_in_polygon(x: np.ndarray, y: np.ndarray, polygon: np.ndarray) -> np.ndarray:
    """Even-odd (ray casting) test of points (x, y) against a closed polygon of shape (k, 2)."""
    inside = np.zeros(x.shape, dtype=bool)
    px, py = polygon[:, 0], polygon[:, 1]
    qx, qy = np.roll(px, 1), np.roll(py, 1)
    for x1, y1, x2, y2 in zip(px, py, qx, qy, strict=True):
        crosses = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            x_cross = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= crosses & (x < x_cross)
    return inside


def rasterize_rtstruct(dataset, image: sitk.Image, roi_name: str | None, *, name: str = "RTSTRUCT") -> sitk.Image:
    """The named ROI of an RTSTRUCT dataset as a uint8 mask on ``image``'s grid.

    Raises
    ------
    RadNomoError
        If the ROI is not named when several exist, is absent, has no planar contours, or
        its contours are not parallel to the image's slices.
    """
    rois = {int(item.ROINumber): str(item.ROIName) for item in getattr(dataset, "StructureSetROISequence", [])}
    number = choose_by_name(rois, roi_name, what="ROI", where=f"RTSTRUCT '{name}'")
    roi_name = rois[number]
    contours = []
    for roi_contour in getattr(dataset, "ROIContourSequence", []):
        if int(roi_contour.ReferencedROINumber) == number:
            contours = [c for c in getattr(roi_contour, "ContourSequence", [])
                        if c.ContourGeometricType in ("CLOSED_PLANAR", "CLOSEDPLANAR")]
    if not contours:
        raise RadNomoError(f"ROI '{roi_name}' in '{name}' has no closed planar contours.")

    size = image.GetSize()
    mask = np.zeros(size[::-1], dtype=bool)  # (z, y, x)
    grid_x, grid_y = np.meshgrid(np.arange(size[0]), np.arange(size[1]))
    for contour in contours:
        points = np.asarray(contour.ContourData, dtype=float).reshape(-1, 3)
        index = np.array([image.TransformPhysicalPointToContinuousIndex(tuple(p)) for p in points])
        slices = np.round(index[:, 2])
        if np.abs(index[:, 2] - slices).max() > 0.25 or np.ptp(slices) > 0:
            raise RadNomoError(f"a contour of ROI '{roi_name}' in '{name}' does not lie on one image slice; the "
                               "RTSTRUCT must belong to this CT series.")
        k = int(slices[0])
        if not 0 <= k < size[2]:
            raise RadNomoError(f"ROI '{roi_name}' in '{name}' lies outside the image; the RTSTRUCT must belong to "
                               "this CT series.")
        lo = np.clip(np.floor(index[:, :2].min(axis=0)).astype(int), 0, None)
        hi = np.minimum(np.ceil(index[:, :2].max(axis=0)).astype(int) + 1, size[:2])
        window = (slice(lo[1], hi[1]), slice(lo[0], hi[0]))
        mask[k][window] ^= points_in_polygon(grid_x[window].astype(float), grid_y[window].astype(float),
                                             index[:, :2])
    out = sitk.GetImageFromArray(mask.astype(np.uint8))
    out.CopyInformation(image)
    return out
