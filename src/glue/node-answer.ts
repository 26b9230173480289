/** Writes the core's answer (status, headers, JSON body or none) to a `node:http` response. */
import type { ServerResponse } from 'node:http';
import type { RouteAnswer } from '../core/request/route-answer.js';

export const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

export function writeAnswer(res: ServerResponse, answer: RouteAnswer): void {
  res.statusCode = answer.status;
  for (const [name, value] of Object.entries(answer.headers)) res.setHeader(name, value);
  if (answer.body === undefined) {
    res.end();
    return;
  }
  res.setHeader('Content-Type', JSON_CONTENT_TYPE);
  res.end(JSON.stringify(answer.body));
}
