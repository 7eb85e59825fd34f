"""Read one segment of a DICOM Segmentation (SEG) object onto its CT grid.

Read with pydicom directly: a SEG is a multi-frame image whose per-frame functional groups say
which segment and which plane each frame holds, so mapping frames to CT slices is a few lines
(highdicom can do it too, but its reading API has changed between releases).
"""

from __future__ import annotations

import numpy as np
import SimpleITK as sitk

from core.errors import RadNomoError
from core.imaging.extraction.labels import choose_by_name

__all__ = ["segment_mask"]


def segment_mask(dataset, image: sitk.Image, segment_label: str | None, *, name: str = "SEG") -> sitk.Image:
    """The named segment of a SEG dataset as a uint8 mask on ``image``'s grid (fractional frames at >= 0.5)."""
    segments = {int(s.SegmentNumber): str(s.SegmentLabel) for s in getattr(dataset, "SegmentSequence", [])}
    number = choose_by_name(segments, segment_label, what="segment", where=f"DICOM-SEG '{name}'")
    segment_label = segments[number]
    frames = dataset.pixel_array
    if frames.ndim == 2:
        frames = frames[np.newaxis]
    if getattr(dataset, "SegmentationType", "BINARY") == "FRACTIONAL":
        frames = frames >= 0.5 * float(getattr(dataset, "MaximumFractionalValue", 255))
    size = image.GetSize()
    mask = np.zeros(size[::-1], dtype=bool)
    shared = dataset.SharedFunctionalGroupsSequence[0] if "SharedFunctionalGroupsSequence" in dataset else None

    def group(frame_groups, attribute: str):
        """A functional group of a frame, which writers may put in the shared groups instead."""
        if attribute in frame_groups:
            return frame_groups[attribute].value[0]
        if shared is not None and attribute in shared:
            return shared[attribute].value[0]
        raise RadNomoError(f"DICOM-SEG '{name}' lacks {attribute}; it cannot be placed on the image.")

    per_frame = dataset.PerFrameFunctionalGroupsSequence
    if len(per_frame) != len(frames):  # a frame without its position (or the reverse) cannot be placed
        raise RadNomoError(f"DICOM-SEG '{name}' has {len(frames)} frames but {len(per_frame)} per-frame functional "
                           "groups; it cannot be placed on the image.")
    for frame, groups in zip(frames, per_frame, strict=True):
        if int(group(groups, "SegmentIdentificationSequence").ReferencedSegmentNumber) != number:
            continue
        position = [float(v) for v in group(groups, "PlanePositionSequence").ImagePositionPatient]
        index = image.TransformPhysicalPointToContinuousIndex(position)
        k = int(round(index[2]))
        if abs(index[2] - k) > 0.25 or not 0 <= k < size[2] or frame.shape != (size[1], size[0]):
            raise RadNomoError(f"a frame of segment '{segment_label}' in '{name}' does not match the image's slices; "
                               "the SEG must reference this CT series.")
        mask[k] |= frame.astype(bool)
    out = sitk.GetImageFromArray(mask.astype(np.uint8))
    out.CopyInformation(image)
    return out
