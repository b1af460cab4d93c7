#!/usr/bin/env bats
# preview.sh against the stub engine, curl and nginx (test/stub): the preview's sandbox and
# route, reloads only when the set of previews changes, the cap, down, and bad input.

load helpers
bats_require_minimum_version 1.5.0

setup() {
  setup_stub_host
  export REFLEX_PREVIEW_DOMAIN=preview.example.test REFLEX_PREVIEW_PORTS=8201-8209
  export REFLEX_NGINX_PREVIEWS="$TMP/nginx/conf.d/reflex.previews.conf"
  load_config
}
teardown() { teardown_common; }

sha_a=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa
sha_b=bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb
sha_c=cccccccccccccccccccccccccccccccccccccccc

# Print how many times nginx was reloaded.
reloads() { grep -c -- '-s reload' "$STUB_ENGINE_DIR/nginx.log" || true; }

@test "up runs the site alone in the live site's sandbox, without the operator's settings, and routes its host name to it" {
  echo 'REFLEX_SITE_ANALYTICS_ID=prod-only' >"$REFLEX_SITE_ENV_FILE"
  run "$SCRIPTS/preview.sh" up hello "$(publish_image "$sha_a")"
  [ "$status" -eq 0 ]
  [[ $output == *"preview hello ($sha_a) serves at hello.preview.example.test (127.0.0.1:8201)"* ]]
  c="$STUB_ENGINE_DIR/containers/reflex-preview-hello"
  [ "$(cat "$c/sha")" = "$sha_a" ]
  grep -qx 'io.reflex.service=reflex-preview' "$c/labels"
  for option in --user=65534:65534 --read-only --cap-drop=ALL --security-opt=no-new-privileges \
    --pids-limit=64 --memory=256m --network=reflex-preview; do
    grep -qxF -- "$option" "$c/options"
  done
  ! grep -q -- '--volume' "$c/options"
  [ ! -e "$c/env" ]
  [ "$(cut -d= -f1 "$c/envs" | tr '\n' ' ')" = "PORT HOST REFLEX_SHA REFLEX_BUILT_AT REFLEX_SITE_PREVIEW " ]
  grep -qx 'REFLEX_SITE_PREVIEW=hello' "$c/envs"
  [ "$(tr '\n' ' ' <"$c/command")" = "${SITE_COMMAND[*]} " ]
  # Its route: the preview's host name to its port, never with the edge token.
  grep -q 'server_name hello.preview.example.test;' "$REFLEX_NGINX_PREVIEWS"
  grep -q 'proxy_pass http://127.0.0.1:8201;' "$REFLEX_NGINX_PREVIEWS"
  ! grep -q 'X-Reflex-Edge "[^"]' "$REFLEX_NGINX_PREVIEWS"
  [ "$(reloads)" -eq 1 ]
  grep -q "preview-up slug=hello sha=$sha_a" "$REFLEX_STATE_DIR/audit.log"
}

@test "up of a running preview replaces its container on the same port without reloading nginx" {
  "$SCRIPTS/preview.sh" up hello "$(publish_image "$sha_a")"
  routes=$(cat "$REFLEX_NGINX_PREVIEWS")
  run "$SCRIPTS/preview.sh" up hello "$(publish_image "$sha_b")"
  [ "$status" -eq 0 ]
  [ "$(cat "$STUB_ENGINE_DIR/containers/reflex-preview-hello/sha")" = "$sha_b" ]
  [ "$(cat "$REFLEX_NGINX_PREVIEWS")" = "$routes" ]
  [ "$(reloads)" -eq 1 ]
}

@test "over REFLEX_PREVIEW_MAX a new preview stops the one used least recently, by request or by up" {
  export REFLEX_PREVIEW_MAX=2
  "$SCRIPTS/preview.sh" up one "$(publish_image "$sha_a")"
  "$SCRIPTS/preview.sh" up two "$(publish_image "$sha_b")"
  # one came up first but served a request since; two has been idle longer.
  sed -i 's/^up=.*/up=1000/' "$REFLEX_STATE_DIR/previews/one.preview"
  sed -i 's/^up=.*/up=2000/' "$REFLEX_STATE_DIR/previews/two.preview"
  echo 1767225600.000 >"$REFLEX_STATE_DIR/previews/one.seen"
  touch -d @3000 "$REFLEX_STATE_DIR/previews/one.seen"
  run "$SCRIPTS/preview.sh" up three "$(publish_image "$sha_c")"
  [ "$status" -eq 0 ]
  [[ $output == *"preview two stopped and removed (the oldest idle preview, idle "*"three makes more than REFLEX_PREVIEW_MAX=2)"* ]]
  [ ! -e "$STUB_ENGINE_DIR/containers/reflex-preview-two" ]
  [ -d "$STUB_ENGINE_DIR/containers/reflex-preview-one" ]
  [ "$("$SCRIPTS/preview.sh" list | cut -d' ' -f1 | tr '\n' ' ')" = "one three " ]
  ! grep -q 'two.preview.example.test' "$REFLEX_NGINX_PREVIEWS"
  # three took the port two gave back.
  grep -q 'proxy_pass http://127.0.0.1:8202;' "$REFLEX_NGINX_PREVIEWS"
}

@test "down removes the container, the route and the state; a name that runs nothing is not an error" {
  "$SCRIPTS/preview.sh" up hello "$(publish_image "$sha_a")"
  run "$SCRIPTS/preview.sh" down hello
  [ "$status" -eq 0 ]
  [ ! -e "$STUB_ENGINE_DIR/containers/reflex-preview-hello" ]
  [ ! -e "$REFLEX_STATE_DIR/previews/hello.preview" ]
  ! grep -q 'hello.preview.example.test' "$REFLEX_NGINX_PREVIEWS"
  [ "$(reloads)" -eq 2 ]
  run "$SCRIPTS/preview.sh" down hello
  [ "$status" -eq 0 ]
  [[ $output == *"no preview named hello runs here"* ]]
  [ "$(reloads)" -eq 2 ]
}

@test "previews and releases never touch each other: a deploy keeps a preview running, a preview never changes what is live" {
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_a")"
  "$SCRIPTS/preview.sh" up hello "$(publish_image "$sha_b")"
  [ "$(served_now)" = "$sha_a" ]
  "$SCRIPTS/deploy.sh" "$(publish_image "$sha_c")"
  "$SCRIPTS/cleanup.sh"
  [ "$(cat "$STUB_ENGINE_DIR/containers/reflex-preview-hello/state")" = running ]
  [ "$(served_now)" = "$sha_c" ]
}

@test "bad input: a bad name, an image not by digest, no preview domain; nothing started" {
  run "$SCRIPTS/preview.sh" up Bad_Name "$(publish_image "$sha_a")"
  [ "$status" -eq 64 ]
  [[ $output == *"not a preview name: 'Bad_Name'"* ]]
  run "$SCRIPTS/preview.sh" down editor
  [ "$status" -eq 64 ]
  [[ $output == *"not a preview name: 'editor'"* ]]
  run "$SCRIPTS/preview.sh" up "$(printf 'a%.0s' {1..41})" "$(publish_image "$sha_a")"
  [ "$status" -eq 64 ]
  run "$SCRIPTS/preview.sh" up hello reg.example/reflex:latest
  [ "$status" -eq 64 ]
  [[ $output == *"not an image reference by digest"*"'reg.example/reflex:latest'"* ]]
  run "$SCRIPTS/preview.sh" up hello
  [ "$status" -eq 64 ]
  [[ $output == *"usage: preview.sh up SLUG IMAGE"* ]]
  REFLEX_PREVIEW_DOMAIN='' run "$SCRIPTS/preview.sh" up hello "$(publish_image "$sha_a")"
  [ "$status" -eq 78 ]
  [[ $output == *"REFLEX_PREVIEW_DOMAIN is not set"* ]]
  REFLEX_PREVIEW_PORTS=8080-8090 run "$SCRIPTS/preview.sh" list
  [ "$status" -eq 78 ]
  [[ $output == *"REFLEX_PREVIEW_PORTS (8080-8090) holds port 8081"* ]]
  [ ! -d "$STUB_ENGINE_DIR/containers/reflex-preview-hello" ]
}
