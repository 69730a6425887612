#!/usr/bin/env bash
# `make deploy`: builds the four functions with `sam build` and deploys the
# stack with `sam deploy` - guided (the questions, answers saved to
# samconfig.toml) while the stack does not exist yet, plain afterwards.
#
#   make deploy                              the [default] stack of samconfig.toml
#   make deploy CONFIG_ENV=staging           another samconfig.toml environment
#   make deploy REGION=us-east-1             another Region than samconfig.toml's
#   make deploy ANSWER_MODEL_ID=global.anthropic.claude-haiku-4-5-20251001-v1:0
#                                            the answering model (template parameter
#                                            AnswerModelId) for this and later deploys
#   make deploy ANSWER_MODEL_ID=auto         back to the Region's inference profile
#                                            (AnswerModelId empty: sam deploy keeps a
#                                            parameter's previous value otherwise)
#   make deploy GUIDED=1 | GUIDED=0          force the questions on, or off (a new stack
#                                            then takes samconfig.toml's answers as they are)
#
# The stack's name and Region are found as sam deploy finds them
# (scripts/samconfig.sh), and the Region is passed to sam deploy, so the
# stack looked up is the stack deployed. Needs SAM CLI, the AWS CLI (to look
# the stack up) with credentials, and what `sam build` needs (docs/aws.md).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/samconfig.sh
. scripts/samconfig.sh

say() { printf 'deploy: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

env="${CONFIG_ENV:-default}"
stack="$(deploy_stack "$env")"
region="$(deploy_region "$env" "${REGION:-}")"
[ -n "$region" ] ||
    die "no Region: pass REGION=…, set region in samconfig.toml's [$env.deploy.parameters], or set AWS_REGION"

command -v sam >/dev/null || die "SAM CLI is needed: pip install aws-sam-cli (docs/aws.md, 'Before the first deploy')"
command -v aws >/dev/null ||
    die "the AWS CLI (aws, version 2) is needed to look the stack up: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"

# Does the stack exist in that Region? Only "does not exist" means a first
# deploy; any other failure (no credentials, no network) stops here.
error="$(mktemp)"
trap 'rm -f "$error"' EXIT
if status="$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query 'Stacks[0].StackStatus' --output text 2>"$error")"; then
    :
elif grep -q 'does not exist' "$error"; then
    status=NONE
else
    cat "$error" >&2
    die "could not look up stack $stack in $region (credentials? aws sts get-caller-identity)"
fi

case "$status" in
NONE | REVIEW_IN_PROGRESS) guided=1 ;; # REVIEW_IN_PROGRESS: a first change set that was never run
ROLLBACK_COMPLETE)
    die "stack $stack in $region failed its first create (ROLLBACK_COMPLETE) and cannot be updated:
  read why: aws cloudformation describe-stack-events --region $region --stack-name $stack
  delete it: aws cloudformation delete-stack --region $region --stack-name $stack
  then make deploy again"
    ;;
*) guided="" ;;
esac
case "${GUIDED:-}" in
1 | true | yes) guided=1 ;;
0 | false | no) guided="" ;;
esac
if [ -n "$guided" ] && [ ! -t 0 ]; then
    die "stack $stack does not exist in $region yet and there is no terminal for sam deploy --guided's questions:
  run make deploy in a terminal, or GUIDED=0 to create it with samconfig.toml's [$env] answers"
fi

# One more parameter on top of samconfig.toml's: a --parameter-overrides on
# the command line replaces samconfig.toml's parameter_overrides, so both go.
overrides=()
if [ -n "${ANSWER_MODEL_ID:-}" ]; then
    if [ "$ANSWER_MODEL_ID" = auto ]; then
        answer_model='AnswerModelId=""' # SAM's syntax for an empty value
    elif [[ "$ANSWER_MODEL_ID" =~ ^[A-Za-z0-9.:_-]+$ ]]; then
        answer_model="AnswerModelId=$ANSWER_MODEL_ID"
    else
        die "ANSWER_MODEL_ID is not a model or inference profile id (or auto): $ANSWER_MODEL_ID"
    fi
fi
# PARAMS="Name=value …": more parameters for this deploy (e.g. the Google and
# Amazon sign-in clients; docs/aws.md). Secrets are best passed from the
# environment, PARAMS="GoogleClientSecret=$GOOGLE_CLIENT_SECRET", so they stay
# out of samconfig.toml and shell history.
extra=()
if [ -n "${PARAMS:-}" ]; then
    read -ra extra <<<"$PARAMS"
    for assignment in "${extra[@]}"; do
        [[ "$assignment" =~ ^[A-Za-z0-9]+=[^[:space:]]*$ ]] ||
            die "PARAMS holds Name=value pairs separated by spaces; not one: ${assignment%%=*}=…"
    done
fi
if [ -n "${answer_model:-}" ] || [ "${#extra[@]}" -gt 0 ]; then
    configured="$(samconfig_get "$env" deploy parameter_overrides)"
    overrides=(--parameter-overrides)
    [ -z "$configured" ] || overrides+=("$configured")
    [ -z "${answer_model:-}" ] || overrides+=("$answer_model")
    overrides+=(${extra[@]+"${extra[@]}"})
fi

say "stack $stack in $region (samconfig.toml [$env])${guided:+ - not deployed yet: sam deploy --guided}"
sam build --config-env "$env"
sam deploy --config-env "$env" --stack-name "$stack" --region "$region" ${guided:+--guided} ${overrides[@]+"${overrides[@]}"}
