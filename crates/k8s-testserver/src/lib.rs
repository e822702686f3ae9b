//! A Kubernetes API server small enough to start inside a test, speaking the real protocol.
