#!/usr/bin/env bash
# First boot of the Reflex EC2 host, run once by cloud-init (runcmd) as root. The user data
# (pulumi/userData.ts) has already written the files this needs: /etc/reflex/*.env, the
# repository's deploy-scripts/ and monitoring stack under /opt/reflex, the sudoers rule and the
# Docker client config. This installs the software and starts everything; docs/HOST.md is the
# contract it implements. Output goes to /var/log/cloud-init-output.log.
set -o errexit -o nounset -o pipefail

if [[ $# -ne 0 ]]; then
  echo "usage: bootstrap.sh   (no arguments; run by cloud-init on first boot)" >&2
  exit 64
fi
cd "$(dirname "${BASH_SOURCE[0]}")"

readonly REFLEX_HOME=/opt/reflex
readonly DEPLOY_ENV=/etc/reflex/deploy.env
readonly PACKAGES=(docker.io docker-compose-v2 nginx amazon-ecr-credential-helper git jq curl)

# Prints a step header.
step() { printf '\n[reflex-bootstrap] %s (%s)\n' "$1" "$(date -u +%H:%M:%S)"; }

# Stops the boot with a message that names what is wrong.
fail() {
  echo "[reflex-bootstrap] FAILED: $1" >&2
  exit 1
}

step "settings from ${DEPLOY_ENV}"
[[ -r "${DEPLOY_ENV}" ]] || fail "${DEPLOY_ENV} is missing"
set -o allexport
# shellcheck source=/dev/null
source "${DEPLOY_ENV}"
set +o allexport
: "${REFLEX_STATE_DIR:?}" "${REFLEX_TEXTFILE_DIR:?}" "${REFLEX_NGINX_UPSTREAM:?}"

step "packages: ${PACKAGES[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get -o Acquire::Retries=5 update
apt-get -o Acquire::Retries=5 install --yes "${PACKAGES[@]}"
docker compose version
command -v docker-credential-ecr-login

step "docker and nginx"
systemctl enable --now docker.service nginx.service
usermod --append --groups docker deploy

step "ECR login through the credential helper (no 12-hour token to refresh)"
install -d -m 0700 /root/.docker
install -m 0600 /etc/reflex/docker-config.json /root/.docker/config.json
install -d -m 0700 -o deploy -g deploy /home/deploy/.docker
install -m 0600 -o deploy -g deploy /etc/reflex/docker-config.json /home/deploy/.docker/config.json

step "host state folders"
install -d -m 0755 "${REFLEX_STATE_DIR}" "${REFLEX_TEXTFILE_DIR}" "${REFLEX_STATE_DIR}/prometheus"
install -d -m 0755 "$(dirname "${REFLEX_NGINX_UPSTREAM}")"
# Prometheus' file-SD list of the live app: empty until the first deploy writes it.
[[ -e "${REFLEX_STATE_DIR}/prometheus/app.json" ]] || echo '[]' >"${REFLEX_STATE_DIR}/prometheus/app.json"

step "grafana admin password (generated once, kept on the host)"
if [[ ! -e /etc/reflex/grafana.env ]]; then
  (
    umask 077
    printf 'GF_SECURITY_ADMIN_PASSWORD=%s\n' "$(openssl rand -hex 24)" >/etc/reflex/grafana.env
  )
fi

step "sudo rule of the deploy user"
visudo --check --file /etc/sudoers.d/reflex-deploy

step "deploy-scripts/install-host.sh (nginx edge, systemd timers)"
[[ -f "${REFLEX_HOME}/deploy-scripts/install-host.sh" ]] ||
  fail "${REFLEX_HOME}/deploy-scripts/install-host.sh is missing: the repository's deploy-scripts/ was not rendered into the user data"
bash "${REFLEX_HOME}/deploy-scripts/install-host.sh"
nginx -t
systemctl reload nginx.service

step "timers: cleanup daily, reconcile every 5 minutes"
systemctl daemon-reload
systemctl enable --now reflex-cleanup.timer reflex-reconcile.timer

step "monitoring stack (Prometheus, node-exporter with the textfile collector, Grafana)"
[[ -f "${REFLEX_HOME}/compose.yaml" ]] || fail "${REFLEX_HOME}/compose.yaml is missing"
docker compose --file "${REFLEX_HOME}/compose.yaml" --project-name reflex-monitoring up --detach

date -u +%Y-%m-%dT%H:%M:%SZ >"${REFLEX_STATE_DIR}/bootstrapped-at"
step "done: the host waits for its first deploy"
