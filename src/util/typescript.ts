/**
 * Whether a process must load TypeScript (through tsx): when celeriac itself runs from its
 * sources, or when the app module is a TypeScript file. A built celeriac running a JavaScript
 * app needs no loader, and skipping it saves its cost: tsx's loader thread and esbuild take
 * about 40 MB per process and most of a second of start-up. CELERIAC_TSX=1 forces it (a
 * JavaScript app that imports TypeScript files).
 */

/** True when the module spec (`path[:attr]`) names a JavaScript file (.js, .mjs, .cjs). */
export function isJavaScriptModule(spec: string): boolean {
  const colon = spec.lastIndexOf(':');
  const path = colon > 1 ? spec.slice(0, colon) : spec; // not a Windows drive letter
  return /\.[cm]?js$/i.test(path);
}

/** Whether loading `appSpec` here needs tsx (see the module comment). */
export function needsTypeScriptLoader(
  appSpec: string | undefined,
  selfUrl: string = import.meta.url,
  env: NodeJS.ProcessEnv = process.env,
): boolean {
  if (env.CELERIAC_TSX === '1' || selfUrl.endsWith('.ts')) return true;
  return appSpec === undefined ? false : !isJavaScriptModule(appSpec);
}
