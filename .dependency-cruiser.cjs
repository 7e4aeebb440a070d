/**
 * The layers of the gateway, enforced on every `npm test` (and so in CI) by
 * dependency-cruiser: `npm run lint:layers`. README.md ("Architecture") shows
 * the same table; change both together.
 *
 * Data flows one way: socket → codec → dispatcher → method → services →
 * stores, and back as a result. Each layer may import only the layers below
 * it (type-only imports count: a type is a dependency too):
 *
 *   composition   app.ts, main.ts, gatewayProcess.ts, startFailure.ts,        anything below
 *                 start.ts, metrics.ts, cluster/, embedded/, admin/
 *   gateway       gateway/     HTTP, upgrade, connections, dispatcher        methods, services, protocol, domain, config, logger
 *   methods       methods/     one file per protocol method                  services, protocol, domain, logger
 *   services      services/    tokens, passwords, sessions, limits, mail...  store, protocol, domain, config, logger
 *   store         store/       Postgres repositories, live state, broker     domain, config, logger
 *   protocol      protocol/    codec, error and close codes (gen/: generated) domain
 *   domain        domain/      ids, device, session, user, invite types      nothing
 *   config.ts, logger.ts       read by every layer                           nothing of ours
 *   client        client/      the typed client (Node and browsers)          protocol, domain (never the server)
 *   console       console/     the web console's page script (browsers)      client, protocol, domain
 *   backend       backend/     the helper chat backends run (never the       backend, gen
 *                              gateway): hop handler, internal-API client
 */
const BELOW = {
  gateway: '^src/(gateway|methods|services|protocol|gen|domain)/|^src/(config|logger)\\.ts$',
  methods: '^src/(methods|services|protocol|gen|domain)/|^src/logger\\.ts$',
  services: '^src/(services|store|protocol|gen|domain)/|^src/(config|logger)\\.ts$',
  store: '^src/(store|domain)/|^src/(config|logger)\\.ts$',
  protocol: '^src/(protocol|gen|domain)/',
  domain: '^src/domain/',
  client: '^src/(client|protocol|gen|domain)/',
  console: '^src/(console|client|protocol|gen|domain)/',
  backend: '^src/(backend|gen)/',
};

const layer = (name, comment) => ({
  name: `${name}-imports-only-below`,
  comment,
  severity: 'error',
  from: { path: `^src/${name}/` },
  to: { path: '^src/', pathNot: BELOW[name] },
});

module.exports = {
  forbidden: [
    {
      name: 'no-cycles',
      comment: 'A cycle makes two modules one: neither can be understood, tested or moved alone.',
      severity: 'error',
      from: {},
      to: { circular: true },
    },
    layer('gateway', 'The gateway hands requests to methods and reports to observers; it never touches a store.'),
    layer('methods', 'A method validates, calls services and builds the result: no sockets, no stores, no config.'),
    layer('services', 'Services hold the rules; they never know the gateway or the methods that call them.'),
    layer('store', 'Stores persist and cache; they know only the domain types they store.'),
    layer('protocol', 'The wire format sits at the bottom, beside the domain types.'),
    layer('domain', 'Domain types are the bottom: shared by every layer, depending on none.'),
    layer('client', 'The client runs in browsers: it must never pull in server code.'),
    layer('console', 'The console runs in browsers, on the client alone: it must never pull in server code.'),
    layer('backend', "The backend helper runs in a chat backend's process: it must never pull in the gateway (only the generated codecs)."),
    {
      name: 'only-backends-import-the-backend-helper',
      comment: "src/backend is a library for backends' processes; the gateway speaks the same contract through src/gen/backend.js.",
      severity: 'error',
      from: { path: '^src/', pathNot: '^src/backend/' },
      to: { path: '^src/backend/' },
    },
    {
      name: 'config-and-logger-depend-on-nothing-of-ours',
      comment: 'Every layer reads the configuration and logs; so they can import nothing of ours.',
      severity: 'error',
      from: { path: '^src/(config|logger)\\.ts$' },
      to: { path: '^src/' },
    },
    {
      name: 'src-never-imports-scripts-or-tests',
      severity: 'error',
      from: { path: '^src/' },
      to: { path: '^(scripts|test)/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.mjs', '.d.ts'] },
  },
};
