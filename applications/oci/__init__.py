"""A daemonless OCI image builder and registry client (the way ko and Jib build images).

A pure library with no models; the builds app drives it from a Celery task:

- ``references``: image references (``[host[:port]/]repo[:tag][@sha256:...]``) -> ``ImageRef``.
- ``client``: ``RegistryClient``, the OCI distribution API over HTTP(S) (Bearer challenge,
  streamed blob uploads, manifests, referrers with the tag-schema fallback).
- ``layers``: reproducible layer tarballs (sorted, fixed times and owners, gzip without a name).
- ``dockerfile``: interprets the instructions that need no container (FROM, COPY/ADD, ENV, ...);
  RUN is refused, naming the line.
- ``builder``: ``build_image(...)``: base image + new layers + config -> pushed image and its
  provenance artifact.
- ``buildah``: the same through ``buildah bud`` when ``settings.BUILDER == "buildah"``.
- ``base_images``: the platform's base images, built locally with no internet.
"""
