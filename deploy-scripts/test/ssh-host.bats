#!/usr/bin/env bats
# ci/ssh-host.sh: the deploy job's one ssh command line (the host tier runs it for real).

load helpers
bats_require_minimum_version 1.5.0

setup() {
  setup_common
  export REFLEX_SSH_KEY="$TMP/deploy_key" REFLEX_SSH_KNOWN_HOSTS="$TMP/known_hosts"
  echo key >"$REFLEX_SSH_KEY"
  echo 'i-0abc ssh-ed25519 AAAA' >"$REFLEX_SSH_KNOWN_HOSTS"
  unset REFLEX_SSH_PROXY_COMMAND
}
teardown() { teardown_common; }

@test "ssh-host.sh goes through the Instance Connect Endpoint with only the pinned host key" {
  run "$SCRIPTS/ci/ssh-host.sh" --print deploy@i-0abc sudo -n /opt/reflex/deploy-scripts/deploy.sh IMAGE
  [ "$status" -eq 0 ]
  [[ $output == *$'\n-o\nStrictHostKeyChecking=yes\n'* ]]
  [[ $output == *$'\n-o\nUserKnownHostsFile='"$TMP/known_hosts"$'\n'* ]]
  [[ $output == *$'\n-o\nGlobalKnownHostsFile=/dev/null\n'* ]]
  [[ $output == *$'\n-o\nProxyCommand=aws ec2-instance-connect open-tunnel --instance-id %h --remote-port %p\n'* ]]
  [[ $output == *$'\n-o\nBatchMode=yes\n'* ]]
  [[ $output == *$'\ndeploy@i-0abc\nsudo\n-n\n/opt/reflex/deploy-scripts/deploy.sh\nIMAGE' ]]
  [[ $output == $'ssh\n-F\n/dev/null\n'* ]]
}

@test "ssh-host.sh takes a stand-in ProxyCommand from REFLEX_SSH_PROXY_COMMAND" {
  run env REFLEX_SSH_PROXY_COMMAND='node tunnel.mjs 2222' "$SCRIPTS/ci/ssh-host.sh" --print deploy@i-0abc
  [[ $output == *$'\nProxyCommand=node tunnel.mjs 2222\n'* ]]
  [[ $output != *ec2-instance-connect* ]]
}

@test "ssh-host.sh refuses a bad target, a missing key and an unpinned host" {
  run "$SCRIPTS/ci/ssh-host.sh"
  [ "$status" -eq 64 ]
  [[ $output == "usage: ssh-host.sh [--print] USER@INSTANCE_ID [COMMAND...]" ]]
  run "$SCRIPTS/ci/ssh-host.sh" --print 'deploy@i-0abc;id'
  [ "$status" -eq 64 ]
  [[ $output == *"not USER@INSTANCE_ID: 'deploy@i-0abc;id'"* ]]
  run env REFLEX_SSH_KEY="$TMP/none" "$SCRIPTS/ci/ssh-host.sh" --print deploy@i-0abc
  [ "$status" -eq 66 ]
  [[ $output == *"no readable identity file at $TMP/none"* ]]
  : >"$REFLEX_SSH_KNOWN_HOSTS"
  run "$SCRIPTS/ci/ssh-host.sh" --print deploy@i-0abc
  [ "$status" -eq 66 ]
  [[ $output == *"no pinned host key in $TMP/known_hosts"* ]]
}
