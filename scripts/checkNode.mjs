// The first thing `npm start` (and dist/main.js) runs, before anything else
// loads: on a node older than the project supports, one line saying what to
// install, exit 1. No imports and old syntax, so that any node can say it.
var v = process.versions.node.split('.').map(Number);
if (v[0] < 22 || (v[0] === 22 && v[1] < 12)) {
  process.stderr.write(
    'cannot start: Node ' + process.version + ' is too old (Node 20 reached end of life on 2026-04-30); ' +
      'install Node 24 LTS (22.12 or later works) from https://nodejs.org, or run `scripts/node24.sh npm start` (fetches Node 24 from the npm registry)\n',
  );
  process.exit(1);
}
