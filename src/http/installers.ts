// Placeholder: routes of this module are being written (issue 3).
import type Router from '@koa/router';
import type { HttpDeps } from './context.ts';

export function installerRoutes(_router: Router, _deps: HttpDeps): void {}
