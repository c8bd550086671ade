"""Operations: metrics, the /healthz and /metrics endpoint, the log line format, and the
HTML report."""
