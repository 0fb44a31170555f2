/** The options every command shares (-A, -b, --result-backend) and how a command gets its app. */
import type { Celery } from '../app/celery.js';
import { CliExit } from './output.js';
import { loadApp } from '../app/load-app.js';

export type GlobalOptions = {
  app?: string | undefined;
  broker?: string | undefined;
  resultBackend?: string | undefined;
};

/** Loads the app named by -A and applies -b / --result-backend. */
export async function appFromOptions(options: GlobalOptions): Promise<Celery> {
  if (!options.app) {
    throw new CliExit('No app given: pass -A <module>, e.g. celeriac -A tasks.ts worker', 2);
  }
  const app = await loadApp(options.app);
  app.overrideUrls({ broker: options.broker, backend: options.resultBackend });
  app.validate();
  return app;
}
