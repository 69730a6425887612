# shellcheck shell=bash
# Sourced by scripts/deploy.sh and scripts/deploy-web.sh, so that both find a
# stack where `sam deploy` puts it: the same samconfig.toml environment, the
# same stack name, the same Region.

# samconfig_get ENV COMMAND KEY: KEY's value in [ENV.COMMAND.parameters] of
# samconfig.toml, else in [ENV.global.parameters] (the order SAM CLI reads
# them in), else nothing. Handles what samconfig.toml holds: "strings",
# 'literal strings', true/false and numbers, with trailing # comments.
samconfig_get() {
    local env=$1 command=$2 key=$3 file=${SAMCONFIG_FILE:-samconfig.toml}
    [ -f "$file" ] || return 0
    awk -v specific="[$env.$command.parameters]" -v global="[$env.global.parameters]" -v key="$key" '
        function value(line) {
            sub(/^[ \t]*[A-Za-z0-9_-]+[ \t]*=[ \t]*/, "", line)
            if (line ~ /^"/) { sub(/^"/, "", line); sub(/".*$/, "", line); return line }
            if (line ~ /^'\''/) { sub(/^'\''/, "", line); sub(/'\''.*$/, "", line); return line }
            sub(/[ \t]*#.*$/, "", line)
            sub(/[ \t]+$/, "", line)
            return line
        }
        /^[ \t]*\[/ { section = $0; sub(/[ \t]*#.*$/, "", section); gsub(/[ \t]/, "", section); next }
        $0 ~ "^[ \t]*" key "[ \t]*=" {
            if (section == specific && !found_specific) { specific_value = value($0); found_specific = 1 }
            if (section == global && !found_global) { global_value = value($0); found_global = 1 }
        }
        END { if (found_specific) print specific_value; else if (found_global) print global_value }
    ' "$file"
}

# deploy_region ENV [REGION]: the Region `make deploy` deploys ENV's stack to -
# REGION when given (make deploy REGION=…, --region), else samconfig.toml's
# deploy region for ENV, else AWS_REGION, AWS_DEFAULT_REGION, the AWS CLI
# profile's region. scripts/deploy.sh passes the result to sam deploy as
# --region, so the two always agree.
deploy_region() {
    local env=$1 region=${2:-}
    [ -n "$region" ] || region="$(samconfig_get "$env" deploy region)"
    [ -n "$region" ] || region="${AWS_REGION:-${AWS_DEFAULT_REGION:-}}"
    if [ -z "$region" ] && command -v aws >/dev/null; then
        region="$(aws configure get region 2>/dev/null || true)"
    fi
    printf '%s' "$region"
}

# deploy_stack ENV [STACK]: the stack name ENV deploys (samconfig.toml), or askdocs.
deploy_stack() {
    local env=$1 stack=${2:-}
    [ -n "$stack" ] || stack="$(samconfig_get "$env" deploy stack_name)"
    printf '%s' "${stack:-askdocs}"
}
