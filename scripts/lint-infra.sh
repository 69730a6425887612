#!/usr/bin/env bash
# Lint template.yaml as CloudFormation and SAM will read it - offline, with no
# AWS account and no AWS credentials (nothing here talks to AWS):
#
#   1. cfn-lint on the SAM template. cfn-lint evaluates every combination of
#      Conditions, so both VectorStore values are checked; it also runs on a
#      copy whose parameter defaults take the other branches (opensearch, the
#      web page, alarm email, budget), as a deploy with those values would.
#   2. `sam validate --lint` (cfn-lint as SAM CLI runs it) on both.
#   3. SAM's translation to plain CloudFormation - what `sam validate` runs,
#      done offline here - and cfn-lint on the translated templates. cfn-lint
#      1.x validates SAM resources without expanding them, so a problem that
#      exists only between generated resources, such as the circular
#      dependency bucket -> S3 invoke permission -> function -> bucket (E3004)
#      that an S3 event on a function can make, is caught only in this step.
#   4. How `sam build` builds each function: every AWS::Serverless::Function
#      has BuildMethod makefile (CodeUri: the workspace root, where the
#      Makefile is), and the Makefile's build-<LogicalId> target - read with
#      `make -n`, nothing is compiled - runs `cargo lambda build --release
#      --arm64 -p askdocs-<fn> --bin <fn>` and copies that binary into
#      $ARTIFACTS_DIR; `make build-lambda` builds exactly the same binaries.
#
# Exits non-zero on any finding of any tool. The tools come from PyPI, pinned,
# in .venv-infra/. LINT_REGIONS (default "eu-west-1 us-east-1") names the
# Regions cfn-lint checks resource availability in; the first one is the
# Region SAM is told it works in.
set -euo pipefail
cd "$(dirname "$0")/.."

venv=.venv-infra
cfn_lint_version="1.58.0"
sam_cli_version="1.170.0"
template=template.yaml
read -r -a regions <<< "${LINT_REGIONS:-eu-west-1 us-east-1}"

install() {
  local want="cfn-lint==$cfn_lint_version aws-sam-cli==$sam_cli_version"
  if [ -x "$venv/bin/cfn-lint" ] && [ -x "$venv/bin/sam" ] &&
     [ "$(cat "$venv/.pinned" 2>/dev/null)" = "$want" ]; then
    return
  fi
  echo "lint-infra: installing $want into $venv ..." >&2
  python3 -m venv "$venv" || {
    echo "lint-infra: python3 -m venv failed (Debian/Ubuntu: apt-get install python3-venv)" >&2
    exit 1
  }
  # shellcheck disable=SC2086
  "$venv/bin/pip" install --quiet --disable-pip-version-check $want
  echo "$want" > "$venv/.pinned"
}

install

# No AWS account, profile or credentials are read, and none are needed.
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_ENDPOINT_URL
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
export AWS_DEFAULT_REGION="${regions[0]}" AWS_REGION="${regions[0]}"
export AWS_EC2_METADATA_DISABLED=true
export SAM_CLI_TELEMETRY=0

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A helper that (a) writes a copy of the template with other parameter
# defaults, (b) translates a SAM template to CloudFormation exactly as
# `sam validate` does (samcli's SamTemplateValidator), without asking IAM
# for managed policies: the template names none by name, (c) checks how
# `sam build` builds each function (step 4 above).
cat > "$work/helper.py" <<'PY'
import json
import logging
import re
import shlex
import subprocess
import sys

logging.disable(logging.WARNING)  # samtranslator's feature-toggle chatter


def variant(src, dst, *assignments):
    from cfnlint.decode import decode

    template, matches = decode(src)
    if matches:
        for match in matches:
            print(match, file=sys.stderr)
        sys.exit(1)
    for assignment in assignments:
        name, value = assignment.split("=", 1)
        template["Parameters"][name]["Default"] = value
    with open(dst, "w") as f:
        json.dump(template, f, indent=1)


def translate(src, dst):
    from samcli.commands.validate.lib.exceptions import InvalidSamDocumentException
    from samcli.lib.translate.sam_template_validator import SamTemplateValidator
    from samcli.yamlhelper import yaml_parse

    class OfflinePolicies:
        def load(self):
            raise SystemExit(f"{src}: names an AWS managed policy by name; use its ARN (no IAM look-ups offline)")

    with open(src) as f:
        template = yaml_parse(f.read())
    try:
        translated = SamTemplateValidator(template, OfflinePolicies()).get_translated_template_if_valid()
    except InvalidSamDocumentException as e:
        print(f"{src}: invalid SAM template: {e}", file=sys.stderr)
        sys.exit(1)
    with open(dst, "w") as f:
        json.dump(yaml_parse(translated), f, indent=1)


def dry_run(target, artifacts):
    """The commands `make TARGET` would run (make -n: nothing is run), split into words."""
    run = subprocess.run(
        ["make", "--no-print-directory", "-n", target, f"ARTIFACTS_DIR={artifacts}", "CARGO=cargo", "CARGO_TARGET_DIR="],
        capture_output=True,
        text=True,
    )
    if run.returncode != 0:
        return None, run.stderr.strip()
    return [shlex.split(line) for line in run.stdout.splitlines() if line.strip()], None


def is_lambda_build(words, fn):
    """`cargo lambda build --release --arm64 -p askdocs-FN --bin FN` (any order, more flags allowed)."""
    if words[:3] != ["cargo", "lambda", "build"]:
        return False
    pairs = list(zip(words, words[1:]))
    return (
        "--release" in words
        and "--arm64" in words
        and ("-p", f"askdocs-{fn}") in pairs
        and ("--bin", fn) in pairs
        and "--workspace" not in words
    )


def builds(src):
    from cfnlint.decode import decode

    template, matches = decode(src)
    if matches:
        for match in matches:
            print(match, file=sys.stderr)
        sys.exit(1)
    artifacts = "/sam-artifacts-dir"
    problems = []
    built = set()
    functions = sorted(
        (logical, resource)
        for logical, resource in template.get("Resources", {}).items()
        if resource.get("Type") == "AWS::Serverless::Function"
    )
    if not functions:
        problems.append("no AWS::Serverless::Function in the template")
    for logical, resource in functions:
        method = (resource.get("Metadata") or {}).get("BuildMethod")
        if method != "makefile":
            problems.append(f"{logical}: Metadata.BuildMethod is {method!r}, not makefile")
        code_uri = (resource.get("Properties") or {}).get("CodeUri")
        if code_uri != ".":
            problems.append(f"{logical}: CodeUri is {code_uri!r}; the Makefile sam build runs is the workspace root's ('.')")
        match = re.fullmatch(r"([A-Z][A-Za-z]*)Function", logical)
        if not match:
            problems.append(f"{logical}: not named <Name>Function, so no askdocs-<name> package to build")
            continue
        fn = match.group(1).lower()
        commands, error = dry_run(f"build-{logical}", artifacts)
        if commands is None:
            problems.append(f"{logical}: `make build-{logical}` fails: {error}")
            continue
        lambda_builds = [words for words in commands if words[:3] == ["cargo", "lambda", "build"]]
        if not any(is_lambda_build(words, fn) for words in lambda_builds):
            problems.append(f"build-{logical} does not run `cargo lambda build --release --arm64 -p askdocs-{fn} --bin {fn}`")
        others = [" ".join(words) for words in lambda_builds if not is_lambda_build(words, fn)]
        if others:
            problems.append(f"build-{logical} also builds something else: {others}")
        copies = [
            words
            for words in commands
            if words[:1] == ["cp"] and any(w.endswith(f"/lambda/{fn}/bootstrap") for w in words)
            and any(w == artifacts or w.startswith(artifacts + "/") for w in words)
        ]
        if not copies:
            problems.append(f"build-{logical} does not copy <target>/lambda/{fn}/bootstrap into $ARTIFACTS_DIR")
        built.add(fn)
    commands, error = dry_run("build-lambda", artifacts)
    if commands is None:
        problems.append(f"`make build-lambda` fails: {error}")
    else:
        lambda_builds = [words for words in commands if words[:3] == ["cargo", "lambda", "build"]]
        bench = {fn for fn in built if any(is_lambda_build(words, fn) for words in lambda_builds)}
        if bench != built or len(lambda_builds) != len(built):
            problems.append(
                "`make build-lambda` must build exactly the functions sam build does, the same way: "
                + "; ".join(" ".join(words) for words in lambda_builds)
            )
    for problem in problems:
        print(f"{src}: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"   {len(built)} functions, each `cargo lambda build -p askdocs-<fn>` alone: {', '.join(sorted(built))}", file=sys.stderr)


def streams(src):
    """The query function's routes reach it through API Gateway's streaming
    integration (the function answers in Lambda's response-streaming format,
    which a buffered integration cannot read), waiting as long as it runs;
    every other route stays buffered."""
    with open(src) as f:
        template = json.load(f)
    resources = template["Resources"]
    timeout = resources["QueryFunction"]["Properties"]["Timeout"]
    deadline = int(resources["QueryFunction"]["Properties"]["Environment"]["Variables"]["ASKDOCS_ASK_DEADLINE_SECONDS"])
    problems = []
    if deadline >= timeout:
        problems.append(f"the ask's deadline ({deadline} s) must end before the query function's timeout ({timeout} s)")
    seen = set()
    for resource in resources.values():
        if resource["Type"] != "AWS::ApiGateway::RestApi" or "Body" not in resource["Properties"]:
            continue
        for path, methods in resource["Properties"]["Body"]["paths"].items():
            for method, operation in methods.items():
                integration = operation.get("x-amazon-apigateway-integration", {})
                uri = json.dumps(integration.get("uri", ""))
                route = f"{method.upper()} {path}"
                streaming = integration.get("responseTransferMode") == "STREAM"
                if "QueryFunction" in uri:
                    seen.add(route)
                    if not streaming or "response-streaming-invocations" not in uri:
                        problems.append(f"{route}: not the streaming integration ({integration})")
                    if integration.get("timeoutInMillis", 29000) < timeout * 1000:
                        problems.append(f"{route}: the integration gives up before the function's {timeout} s")
                elif streaming:
                    problems.append(f"{route}: streams, but its function answers buffered")
    if seen != {"POST /query/ask", "GET /query/history"}:
        problems.append(f"query routes found: {sorted(seen)}")
    for problem in problems:
        print(f"{src}: {problem}", file=sys.stderr)
    if problems:
        sys.exit(1)
    print(f"   {', '.join(sorted(seen))}: STREAM, {timeout} s", file=sys.stderr)


if __name__ == "__main__":
    {"variant": variant, "translate": translate, "builds": builds, "streams": streams}[sys.argv[1]](*sys.argv[2:])
PY

py() { "$venv/bin/python" "$work/helper.py" "$@"; }

failures=0
step() {
  local title=$1
  shift
  echo "== $title" >&2
  if "$@"; then
    echo "   ok" >&2
  else
    echo "   FAILED: $title" >&2
    failures=$((failures + 1))
  fi
}

# The other branch of every choice a deployer makes.
other="$work/template-opensearch.json"
py variant "$template" "$other" \
  VectorStore=opensearch \
  OpenSearchDeployerArn=arn:aws:iam::123456789012:role/askdocs-deploy \
  OpenSearchStandbyReplicas=ENABLED \
  DeployWebPage=true \
  AlarmEmail=ops@example.com \
  MonthlyBudgetUsd=50 \
  BudgetEmail=ops@example.com \
  GoogleClientId=1234567890-abc.apps.googleusercontent.com \
  GoogleClientSecret=GOCSPX-not-a-real-secret \
  AmazonClientId=amzn1.application-oa2-client.0123456789abcdef \
  AmazonClientSecret=not-a-real-secret \
  RerankModelId=amazon.rerank-v1:0

step "cfn-lint $template (all Conditions; regions ${regions[*]})" \
  "$venv/bin/cfn-lint" --regions "${regions[@]}" -- "$template"
step "cfn-lint $template with opensearch/web page/alarm/budget/Google+Amazon sign-in/rerank defaults" \
  "$venv/bin/cfn-lint" --regions "${regions[@]}" -- "$other"

step "sam validate --lint $template" \
  "$venv/bin/sam" validate --lint --region "${regions[0]}" --template-file "$template"
step "sam validate --lint (opensearch/web page/alarm/budget/Google+Amazon sign-in defaults)" \
  "$venv/bin/sam" validate --lint --region "${regions[0]}" --template-file "$other"

for source in "$template" "$other"; do
  name=$(basename "${source%.*}")
  translated="$work/$name.translated.json"
  step "SAM -> CloudFormation translation of $name (what sam validate checks)" \
    py translate "$source" "$translated"
  if [ -s "$translated" ]; then
    step "cfn-lint on the translated $name (cycles between generated resources, E3004)" \
      "$venv/bin/cfn-lint" --regions "${regions[@]}" -- "$translated"
    step "the query routes stream in the translated $name" \
      py streams "$translated"
  fi
done

step "sam build: every function built alone by its Makefile target (make -n, nothing compiled)" \
  py builds "$template"

echo "lint-infra: cfn-lint $("$venv/bin/cfn-lint" --version | awk '{print $2}'), $("$venv/bin/sam" --version)" >&2
if [ "$failures" -ne 0 ]; then
  echo "lint-infra: $failures check(s) failed" >&2
  exit 1
fi
echo "lint-infra: template.yaml is clean" >&2
