"""Multiple systems estimation: capture data and population-size estimators."""

from fl_estimate.mse.data import CaptureData, StratifiedCaptureData, read_capture_csv

__all__ = ["CaptureData", "StratifiedCaptureData", "read_capture_csv"]
