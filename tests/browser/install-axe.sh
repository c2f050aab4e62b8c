#!/bin/sh
# Installs axe-core (the accessibility engine the learner browser tests run in the page) from the npm
# registry into tests/browser/node_modules (git-ignored). The tests serve it to the page themselves.
set -eu
cd "$(dirname "$0")/../.."
npm install --no-save --no-package-lock --no-audit --no-fund --prefix tests/browser axe-core@4
