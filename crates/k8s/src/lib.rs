//! Cluster state for the kubernetes plugin, kept apart from the DNS crates because the
//! Kubernetes client is the slowest part of the build: the other crates' test loops stay fast.
