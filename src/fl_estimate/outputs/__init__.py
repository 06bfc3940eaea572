"""Safe, reproducible outputs (bottom layer: imports only exceptions and ``_io``).

- :mod:`fl_estimate.outputs.folder`: :func:`publish_folder`, an output folder that replaces only
  a previous fl_estimate output, never an input folder, under a run lock, swapped in atomically.
- :mod:`fl_estimate.outputs.processes`: :func:`process_pool`, worker processes that end with the
  run (SIGINT, SIGTERM, and SIGKILL on Linux).
- :mod:`fl_estimate.outputs.cells`: CSV and XLSX writers with formula-like cells neutralised
  (imports pandas; not re-exported here so that this package stays light).
- :mod:`fl_estimate.outputs.determinism`: canonical JSON, deterministic figures, the manifest.
"""

from fl_estimate.outputs.determinism import (
    MANIFEST_NAME,
    MARKER,
    dumps_canonical,
    folder_listing,
    manifest_without_run,
    move_out_of_output,
    read_manifest,
    relative_labels,
    save_figure,
    write_json,
    write_manifest,
)
from fl_estimate.outputs.folder import check_target, publish_folder, publish_folders
from fl_estimate.outputs.processes import process_pool, spawn_context, terminate_children_on_signal

__all__ = [
    "MANIFEST_NAME",
    "MARKER",
    "check_target",
    "dumps_canonical",
    "folder_listing",
    "manifest_without_run",
    "move_out_of_output",
    "process_pool",
    "publish_folder",
    "publish_folders",
    "read_manifest",
    "relative_labels",
    "save_figure",
    "spawn_context",
    "terminate_children_on_signal",
    "write_json",
    "write_manifest",
]
