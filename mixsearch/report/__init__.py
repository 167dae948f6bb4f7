"""The study report: a self-contained HTML page, its answer sections and figures."""
