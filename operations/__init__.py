"""Hub-wide operations, above the feature apps: the dashboard and console pages, the job event
stream, ``/metrics``, the stale-job reaper, retention pruning, and the demo."""
