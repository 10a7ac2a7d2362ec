# Raspberry Pi 3 and 4 (aarch64) SD-card image running conduwuit behind Caddy.
# Not the Pi 5: nixpkgs' sd-image-aarch64 has no bcm2712 device tree or
# config.txt section for it, and its u-boot is for the Pi 3 and 4 only.
# flake.nix combines it with nixpkgs' sd-image-aarch64 module and the conduwuit
# module: nix build .#packages.aarch64-linux.sdImage (docs/deploying/raspberry-pi.md).
#
# One image for everyone: nothing personal is built in. Before the first boot,
# conduwuit.toml on the FAT partition (FIRMWARE, mounted at /boot/firmware) gets
# the domain, the registration token, the ACME e-mail, the SSH keys and any server
# option ([server]); conduwuit-firstboot turns it into
# /var/lib/conduwuit-setup/{env,registration_token} and /var/lib/conduwuit-ssh/admin
# at every boot. Without it, conduwuit and Caddy stay stopped, the console says
# what to set, and port 80 shows a setup page to the local network.
{
  config,
  lib,
  pkgs,
  ...
}:

let
  setupDir = "/var/lib/conduwuit-setup";
  configured = "${setupDir}/env";
  # Written by conduwuit-firstboot from ssh_authorized_keys (sshd's %u: the user).
  sshKeysDir = "/var/lib/conduwuit-ssh";
in
{
  system.stateVersion = "25.11";
  networking.hostName = "conduwuit";

  # --- the SD card: a FAT partition the family member can edit on a laptop -----
  sdImage.populateFirmwareCommands = lib.mkAfter ''
    cp ${./conduwuit.toml.example} firmware/conduwuit.toml.example
  '';
  # sd-image.nix declares it noauto; mount it so first boot can read it.
  fileSystems."/boot/firmware".options = lib.mkForce [
    "nofail"
    "umask=0077"
  ];

  # --- conduwuit ------------------------------------------------------------------
  services.conduwuit-py = {
    enable = true;
    settings.global = {
      # Replaced at start by CONDUWUIT_SERVER_NAME from the first-boot file
      # (environment wins over the file).
      server_name = "unconfigured.invalid";
      address = [ "127.0.0.1" ];
      port = 8008;
      allow_registration = true;
      registration_token_file = "${setupDir}/registration_token";
      well_known = { };
      # No memory options: the server derives them from the Pi's memory and cores
      # (1 GB: 8 MiB block cache, 16 MiB write buffers; 512 MB: 4 and 8). See
      # docs/deploying/raspberry-pi.md, "Memory on a 1 GB Pi".
    };
  };
  systemd.services.conduwuit-py = {
    after = [ "conduwuit-firstboot.service" ];
    requires = [ "conduwuit-firstboot.service" ];
    unitConfig.ConditionPathExists = configured;
    serviceConfig.EnvironmentFile = configured;
  };

  systemd.services.conduwuit-firstboot = {
    description = "conduwuit: read conduwuit.toml from the boot partition";
    wantedBy = [ "multi-user.target" ];
    after = [ "boot-firmware.mount" ];
    wants = [ "boot-firmware.mount" ];
    before = [ "sshd.service" ];
    serviceConfig = {
      Type = "oneshot";
      RemainAfterExit = true;
      ExecStart = "${pkgs.python3.interpreter} ${./firstboot.py}";
      StandardOutput = "journal+console";
    };
  };

  systemd.services.conduwuit-setup-page = {
    description = "conduwuit: setup page while unconfigured";
    wantedBy = [ "multi-user.target" ];
    after = [ "conduwuit-firstboot.service" ];
    unitConfig.ConditionPathExists = "!${configured}";
    serviceConfig = {
      ExecStart = "${pkgs.python3.interpreter} ${./setup-page.py} 80";
      DynamicUser = true;
      AmbientCapabilities = [ "CAP_NET_BIND_SERVICE" ];
      CapabilityBoundingSet = [ "CAP_NET_BIND_SERVICE" ];
      ProtectSystem = "strict";
      ProtectHome = true;
      PrivateTmp = true;
      NoNewPrivileges = true;
    };
  };

  # --- Caddy: TLS with automatic certificates on 443 (clients) and 8448 (federation)
  services.caddy = {
    enable = true;
    # SERVER_NAME and ACME_EMAIL, written by conduwuit-firstboot.
    environmentFile = configured;
    globalConfig = ''
      email {$ACME_EMAIL}
    '';
    extraConfig = ''
      {$SERVER_NAME}, {$SERVER_NAME}:8448 {
        reverse_proxy /_matrix/* 127.0.0.1:8008
        reverse_proxy /_conduwuit/* 127.0.0.1:8008
        reverse_proxy /.well-known/matrix/* 127.0.0.1:8008
        respond 404
      }
    '';
  };
  systemd.services.caddy = {
    after = [ "conduwuit-firstboot.service" ];
    requires = [ "conduwuit-firstboot.service" ];
    unitConfig.ConditionPathExists = configured;
  };
  networking.firewall.allowedTCPPorts = [
    80
    443
    8448
  ];

  # --- access: SSH keys only ----------------------------------------------------------
  services.openssh = {
    enable = true;
    # As well as /etc/ssh/authorized_keys.d/%u (users.users.<name>.openssh...,
    # for those who build their own image with keys in it).
    authorizedKeysFiles = [ "${sshKeysDir}/%u" ];
    settings = {
      PasswordAuthentication = false;
      KbdInteractiveAuthentication = false;
      PermitRootLogin = "no";
    };
  };
  users.users.admin = {
    isNormalUser = true;
    extraGroups = [ "wheel" ];
  };
  security.sudo.wheelNeedsPassword = false;

  # --- updates: off by default. To turn on (reboots at 04:00 when needed):
  #   system.autoUpgrade = { enable = true; flake = "github:OWNER/REPO"; allowReboot = true; };
  system.autoUpgrade.enable = lib.mkDefault false;

  # --- an SD card wears out: small, compressed, rate-limited journal ------------------
  services.journald.extraConfig = ''
    SystemMaxUse=64M
    SystemMaxFileSize=8M
    RuntimeMaxUse=32M
    MaxRetentionSec=1month
    Compress=yes
  '';
  # No access-time writes; /tmp in RAM.
  fileSystems."/".options = [ "noatime" ];
  boot.tmp.useTmpfs = true;
  zramSwap.enable = true;
}
