const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  bool: /^(true|false)$/i,
  alpha: /^[a-z]+$/i,
  guid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
};

type Segment =
  | { kind: 'literal'; text: string }
  | { kind: 'param'; name: string; optional: boolean; catchAll: boolean; constraint?: RegExp };

/** A compiled route template of the Functions host (`tables/{table}/rows/{id:guid}`, `files/{*path}`, `{id?}`). */
export interface RouteTemplate {
  template: string;
  /** The parameters of `path` (without the `/api/` prefix), or undefined when the path does not match. */
  match(path: string): Record<string, string> | undefined;
}

export function compileRoute(template: string): RouteTemplate {
  const segments: Segment[] = template
    .split('/')
    .filter((part) => part !== '')
    .map((part) => {
      const param = /^\{(\*)?([A-Za-z_][\w]*)(?::([a-z]+))?(\?)?\}$/.exec(part);
      if (!param) return { kind: 'literal', text: part.toLowerCase() };
      const [, star, name, constraint, optional] = param;
      return {
        kind: 'param',
        name: name as string,
        optional: optional !== undefined || star !== undefined,
        catchAll: star !== undefined,
        ...(constraint && CONSTRAINTS[constraint] ? { constraint: CONSTRAINTS[constraint] } : {}),
      };
    });
  return {
    template,
    match(path) {
      const parts = path.split('/').filter((part) => part !== '');
      const params: Record<string, string> = {};
      for (let i = 0; i < segments.length; i++) {
        const segment = segments[i] as Segment;
        const part = parts[i];
        if (segment.kind === 'literal') {
          if (part === undefined || decodePathSegment(part).toLowerCase() !== segment.text) return undefined;
          continue;
        }
        if (segment.catchAll) {
          if (parts.length > i) params[segment.name] = parts.slice(i).map(decodePathSegment).join('/');
          return params;
        }
        if (part === undefined) {
          if (segment.optional) continue;
          return undefined;
        }
        const value = decodePathSegment(part);
        if (segment.constraint && !segment.constraint.test(value)) return undefined;
        params[segment.name] = value;
      }
      return parts.length <= segments.length ? params : undefined;
    },
  };
}

/**
 * A path segment with its percent escapes decoded; a malformed escape (`%`, `%zz`, `%C3%28`) leaves the segment as it
 * came, as the Functions host does, instead of throwing (which would answer 500 to a bad URL).
 */
export function decodePathSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}
