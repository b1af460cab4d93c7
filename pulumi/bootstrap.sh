#!/usr/bin/env bash
# First boot of the Reflex EC2 host, run once by cloud-init (runcmd) as root. The user data
# (pulumi/userData.ts) has already written the files this needs: /etc/reflex/*.env, the bundle
# receiver deploy-scripts/install-bundle.sh, the sudoers rule and the Docker client config. This
# installs the software; the first deploy then sends the bundle (deploy-scripts/, the nginx edge,
# the timers, the monitoring stack) and starts them. docs/HOST.md is the contract it implements.
# Output goes to /var/log/cloud-init-output.log.
set -o errexit -o nounset -o pipefail

[[ $# -eq 0 ]] || { echo "usage: bootstrap.sh   (no arguments; run by cloud-init on first boot)" >&2; exit 64; }
cd "$(dirname "${BASH_SOURCE[0]}")"

readonly REFLEX_HOME=/opt/reflex
readonly DEPLOY_ENV=/etc/reflex/deploy.env
readonly PACKAGES=(docker.io docker-cli docker-compose nginx amazon-ecr-credential-helper git jq curl openssl)

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
: "${REFLEX_STATE_DIR:?}" "${REFLEX_TEXTFILE_DIR:?}" "${REFLEX_FILE_SD:?}" "${REFLEX_EDGE_SWITCH:?}"

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
install -d -m 0755 "$(dirname "${REFLEX_EDGE_SWITCH}")"
# Prometheus' file-SD list of the live app: empty until the first deploy writes it.
[[ -e "${REFLEX_FILE_SD}" ]] || echo '[]' >"${REFLEX_FILE_SD}"

step "grafana admin password (generated once, kept on the host)"
if [[ ! -e /etc/reflex/grafana.env ]]; then
  (
    umask 077
    printf 'GF_SECURITY_ADMIN_PASSWORD=%s\n' "$(openssl rand -hex 24)" >/etc/reflex/grafana.env
  )
fi

step "the app's session secret (generated once, kept on the host; never in user data)"
if ! grep -q '^REFLEX_SESSION_SECRET=' /etc/reflex/app.env; then
  printf 'REFLEX_SESSION_SECRET=%s\n' "$(openssl rand -hex 32)" >>/etc/reflex/app.env
fi
chmod 0600 /etc/reflex/app.env

step "sudo rule of the deploy user"
visudo --check --file /etc/sudoers.d/reflex-deploy

step "the bundle receiver"
[[ -x "${REFLEX_HOME}/deploy-scripts/install-bundle.sh" ]] ||
  fail "${REFLEX_HOME}/deploy-scripts/install-bundle.sh is missing: the user data did not place it"

date -u +%Y-%m-%dT%H:%M:%SZ >"${REFLEX_STATE_DIR}/bootstrapped-at"
step "done: the first deploy brings deploy-scripts, the nginx edge, the timers and the monitoring stack"
