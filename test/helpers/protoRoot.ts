/** The .proto files loaded by reflection, to check the protocol shape in tests. */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

const protoDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'proto');
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => (target.startsWith('/') ? target : join(protoDir, target));
export const protoRoot = root.loadSync(join(protoDir, 'osmium/client/core.proto'), { keepCase: true });
protoRoot.resolveAll();
