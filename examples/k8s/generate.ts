/** Rewrites examples/k8s/*.yaml from the CLI (npm run k8s:examples). */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { main } from '../../src/cli/main.js';
import { EXAMPLES } from './commands.js';

const here = dirname(fileURLToPath(import.meta.url));
for (const { file, args } of EXAMPLES) {
  let text = '';
  const code = main(args, { out: (t) => (text += t), err: (t) => process.stderr.write(t) });
  if (code !== 0) throw new Error(`scalesignal ${args.join(' ')} exited with ${code}`);
  writeFileSync(join(here, file), text);
  console.log(`wrote examples/k8s/${file}`);
}
