//! The control plane: REST API, authentication and metrics.
