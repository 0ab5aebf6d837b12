"""The built-in OCI registry's records (repositories, manifests, tags, blobs, uploads)."""
