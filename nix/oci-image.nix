# OCI image (dockerTools.buildLayeredImage), configured by environment alone, the
# same way as the root Dockerfile: docker run -e CONDUWUIT_SERVER_NAME=example.org ...
{
  lib,
  dockerTools,
  cacert,
  tini,
  conduwuit,
  revision ? "unknown",
  # The flake's self.lastModifiedDate: YYYYMMDDHHMMSS.
  lastModifiedDate ? "19700101000001",
}:

let
  uid = "10000";
  at = start: len: builtins.substring start len lastModifiedDate;
in
dockerTools.buildLayeredImage {
  name = "conduwuit-py";
  tag = conduwuit.version;
  # Reproducible: the flake's lastModified, not the build's clock.
  created = "${at 0 4}-${at 4 2}-${at 6 2}T${at 8 2}:${at 10 2}:${at 12 2}Z";
  contents = [
    dockerTools.caCertificates
    cacert
    tini
    conduwuit
  ];
  fakeRootCommands = ''
    mkdir -p var/lib/conduwuit tmp etc
    chown ${uid}:${uid} var/lib/conduwuit
    chmod 0700 var/lib/conduwuit
    chmod 1777 tmp
    echo 'conduwuit:x:${uid}:${uid}:conduwuit:/var/lib/conduwuit:/sbin/nologin' > etc/passwd
    echo 'conduwuit:x:${uid}:' > etc/group
  '';
  config = {
    Entrypoint = [
      (lib.getExe tini)
      "--"
    ];
    Cmd = [
      (lib.getExe conduwuit)
      "serve"
    ];
    User = "${uid}:${uid}";
    WorkingDir = "/var/lib/conduwuit";
    ExposedPorts."8008/tcp" = { };
    Volumes."/var/lib/conduwuit" = { };
    Env = [
      "CONDUWUIT_DATABASE_PATH=/var/lib/conduwuit"
      "CONDUWUIT_ADDRESS=0.0.0.0"
      "CONDUWUIT_PORT=8008"
      "SSL_CERT_FILE=${cacert}/etc/ssl/certs/ca-bundle.crt"
      "PYTHONUNBUFFERED=1"
    ];
    Labels = {
      "org.opencontainers.image.title" = "conduwuit (Python)";
      "org.opencontainers.image.description" = conduwuit.meta.description;
      "org.opencontainers.image.source" = conduwuit.meta.homepage;
      "org.opencontainers.image.revision" = revision;
      "org.opencontainers.image.version" = conduwuit.version;
      "org.opencontainers.image.licenses" = "Apache-2.0";
    };
  };
}
