"""The replay benchmark: search strategies driving the registered proposers on pools of completed runs, and synthetic ground truth."""
