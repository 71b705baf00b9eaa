// Node 20 worker threads do not inherit tsx's loader, so under `npx tsx` piscina loads this file, which loads
// the TypeScript task through tsx's API. A compiled application points piscina at the task's .js file instead.
import { tsImport } from 'tsx/esm/api';

const task = await tsImport('./piscina-task.ts', import.meta.url);
export default task.default;
