"""The ``scan-image`` scanner: container images read without a daemon (:mod:`.step`), their
packages' vulnerabilities (:mod:`.vulns`), VEX documents (:mod:`.vex`) and the layers'
contents (:mod:`.content`)."""
