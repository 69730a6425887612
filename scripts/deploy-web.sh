#!/usr/bin/env bash
# Publishes the web page (web/) for the AWS column: reads the deployed stack's
# outputs, writes config.json with the API's URL next to index.html, and syncs
# the files to the stack's web bucket (then refreshes CloudFront's copy).
#
#   bash scripts/deploy-web.sh [--config-env ENV] [--stack NAME] [--region REGION]
#                              [--bucket BUCKET] [--dry-run]
#
# Needs the AWS CLI v2 (`aws`), with credentials for the stack's account, and a
# stack deployed with `make deploy`. The stack's name and Region are the ones
# `make deploy` deploys to (scripts/samconfig.sh): samconfig.toml's for the
# environment (--config-env, CONFIG_ENV, default "default"), a Region given as
# --region or REGION first, AWS_REGION / AWS_DEFAULT_REGION / the CLI profile's
# only when samconfig.toml names none. Outputs read: ApiUrl (required);
# WebBucketName, WebUrl and WebDistributionId when the stack hosts the page
# (otherwise pass --bucket).
# For the page to reach the API, the API's CORS must allow the page's origin
# (ASKDOCS_CORS_ORIGIN = WebUrl's origin), and the documents bucket's CORS must
# allow PUT from it (uploads go straight to S3).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/samconfig.sh
. scripts/samconfig.sh

say() { printf 'deploy-web: %s\n' "$*" >&2; }
die() {
    say "$*"
    exit 1
}

env="${CONFIG_ENV:-default}"
stack=""
region="${REGION:-}"
bucket=""
dry_run=""
while [ $# -gt 0 ]; do
    case "$1" in
    --config-env) env="${2:?--config-env needs a samconfig.toml environment}"; shift 2 ;;
    --stack) stack="${2:?--stack needs a name}"; shift 2 ;;
    --region) region="${2:?--region needs a region}"; shift 2 ;;
    --bucket) bucket="${2:?--bucket needs a bucket name}"; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h | --help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
    esac
done
stack="$(deploy_stack "$env" "$stack")"
region="$(deploy_region "$env" "$region")"
[ -n "$region" ] || die "no Region: pass --region, set region in samconfig.toml's [$env.deploy.parameters], or set AWS_REGION"
say "stack $stack in $region"

command -v aws >/dev/null ||
    die "the AWS CLI (aws, version 2) is needed: https://docs.aws.amazon.com/cli/latest/userguide/getting-started-install.html"

# One output of the stack, or nothing when the stack has no such output.
output() {
    local value
    value="$(aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
        --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue | [0]" --output text)" ||
        die "could not read the outputs of stack $stack in $region (deployed? credentials?)"
    [ "$value" = "None" ] || printf '%s' "$value"
}

api_url="$(output ApiUrl)"
[ -n "$api_url" ] || die "stack $stack has no ApiUrl output"
[[ "$api_url" =~ ^https://[A-Za-z0-9.:/_-]+$ ]] || die "ApiUrl is not an https URL: $api_url"
[ -n "$bucket" ] || bucket="$(output WebBucketName)"
[ -n "$bucket" ] || die "stack $stack has no WebBucketName output (no page hosting in the template?); pass --bucket BUCKET"
web_url="$(output WebUrl)"
distribution="$(output WebDistributionId)"

staging="$(mktemp -d)"
trap 'rm -rf "$staging"' EXIT
cp web/index.html web/app.js web/style.css "$staging/"
# Sign in with Google / Amazon: the stack's Cognito managed login and the
# page's app client (code + PKCE), when the stack was deployed with them.
sign_in_url="$(output SignInUrl)"
sign_in=""
if [ -n "$sign_in_url" ]; then
    client_id="$(output SignInClientId)"
    providers="$(output SignInProviders)"
    [[ "$sign_in_url" =~ ^https://[a-z0-9-]+\.auth\.[a-z0-9-]+\.amazoncognito\.com$ ]] ||
        die "SignInUrl is not a Cognito domain: $sign_in_url"
    [[ "$client_id" =~ ^[A-Za-z0-9]+$ ]] || die "SignInClientId is not a Cognito app client id: $client_id"
    [[ "$providers" =~ ^[A-Za-z,]+$ ]] || die "SignInProviders is not a list of provider names: $providers"
    buttons=""
    IFS=',' read -ra names <<<"$providers"
    for name in "${names[@]}"; do
        label="$name"
        [ "$name" = LoginWithAmazon ] && label=Amazon
        buttons="${buttons:+$buttons,}{\"id\":\"$name\",\"label\":\"$label\"}"
    done
    sign_in=$(printf ',"signIn":{"kind":"cognito","clientId":"%s","authorizeUrl":"%s/oauth2/authorize","tokenUrl":"%s/oauth2/token","revokeUrl":"%s/oauth2/revoke","logoutUrl":"%s/logout","scope":"openid email profile","providers":[%s]}' \
        "$client_id" "$sign_in_url" "$sign_in_url" "$sign_in_url" "$sign_in_url" "$buttons")
    say "sign-in: $providers through $sign_in_url"
fi
printf '{"apiUrl":"%s"%s}\n' "${api_url%/}" "$sign_in" >"$staging/config.json"
say "API: ${api_url%/}"

run() {
    say "$*"
    [ -n "$dry_run" ] || "$@"
}

# Small files, fetched again whenever they changed (revalidated by ETag).
run aws s3 sync "$staging/" "s3://$bucket/" --region "$region" --delete \
    --cache-control "no-cache" --exclude "*" \
    --include "index.html" --include "app.js" --include "style.css" --include "config.json"
if [ -n "$distribution" ]; then
    run aws cloudfront create-invalidation --distribution-id "$distribution" --paths "/*" --output text --query Invalidation.Id
fi
say "published to s3://$bucket${web_url:+ — open $web_url}"
