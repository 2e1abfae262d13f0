#!/usr/bin/env bash
# Installs what building, running and testing foureyes needs on Debian/Ubuntu,
# skipping what is already there. Called by `make run` and `make test`.
set -euo pipefail

need=()
command -v clickhouse-server >/dev/null 2>&1 || [ -x /usr/bin/clickhouse-server ] || need+=(clickhouse-server)
command -v clickhouse-client >/dev/null 2>&1 || need+=(clickhouse-client)
command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
# The tools admins run through the bastion, and the demo hosts' side of
# them: scp/sftp (sftp-server), rsync, git, Ansible (python3 on the host).
command -v scp >/dev/null 2>&1 || need+=(openssh-client)
[ -x /usr/lib/openssh/sftp-server ] || need+=(openssh-sftp-server)
command -v rsync >/dev/null 2>&1 || need+=(rsync)
command -v git >/dev/null 2>&1 || need+=(git)
[ -x /usr/bin/python3 ] || need+=(python3)
command -v ansible-playbook >/dev/null 2>&1 || need+=(ansible)

if [ ${#need[@]} -gt 0 ]; then
  echo "install-deps: installing ${need[*]}"
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}"
  # The packages may start system services we do not use; the tests and
  # `foureyes dev` run their own private servers on free ports.
  $sudo systemctl disable --now clickhouse-server ssh >/dev/null 2>&1 || true
fi
# sshd refuses to start without its privilege separation directory.
if [ ! -d /run/sshd ]; then
  sudo=""; [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo mkdir -p /run/sshd && $sudo chmod 0755 /run/sshd
fi
