from __future__ import annotations

import os

import matplotlib

# The command line's messages follow FL_ESTIMATE_LANG or the locale (fl_estimate.i18n.
# message_language): the suite's expected messages are English whatever the machine's locale;
# tests of French messages set the variable themselves.
os.environ["FL_ESTIMATE_LANG"] = "en"

matplotlib.use("Agg")
