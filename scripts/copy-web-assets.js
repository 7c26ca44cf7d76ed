// Part of `npm run build`: tsc copies no assets, so the chat page's static files (apps/chatbot/src/web/public) are
// copied beside the compiled WebController (dist/apps/chatbot/web/public), where it looks for them.
import { cpSync, rmSync } from 'node:fs';

const from = new URL('../apps/chatbot/src/web/public/', import.meta.url);
const to = new URL('../dist/apps/chatbot/web/public/', import.meta.url);
rmSync(to, { recursive: true, force: true });
cpSync(from, to, { recursive: true });
