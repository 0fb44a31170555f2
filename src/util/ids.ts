import { randomUUID } from 'node:crypto';
import { hostname as osHostname } from 'node:os';

/** A new task/group id: a lowercase UUID4, as Celery makes them. */
export function uuid(): string {
  return randomUUID();
}

/** The short host name (up to the first dot), as Celery's `%h` expands. */
export function shortHostname(): string {
  return osHostname().split('.')[0] ?? 'localhost';
}

/** The full host name. */
export function fullHostname(): string {
  return osHostname();
}

/** A client's node name: `gen<pid>@<host>` (spec §0.1). */
export function clientNodeName(pid = process.pid): string {
  return `gen${pid}@${shortHostname()}`;
}

/**
 * Expands Celery's node-name variables: `%h` full host name, `%n` the name part,
 * `%d` the domain, `%i` pool process index (0 here), `%%` a percent sign.
 */
export function expandNodeName(template: string): string {
  const host = fullHostname();
  const dot = host.indexOf('.');
  const name = dot < 0 ? host : host.slice(0, dot);
  const domain = dot < 0 ? '' : host.slice(dot + 1);
  const withHost = template.includes('@') ? template : `${template}@%h`;
  return withHost.replace(/%([hndi%])/g, (_m, key: string) => {
    switch (key) {
      case 'h':
        return host;
      case 'n':
        return name;
      case 'd':
        return domain;
      case 'i':
        return '0';
      default:
        return '%';
    }
  });
}
