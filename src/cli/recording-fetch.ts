/**
 * The doctor's `fetch`: the real one, with every exchange noted (when it left and came back, the
 * status and the headers a diagnosis needs: `Date` for the clock, `Content-Type` for an HTML page
 * where JSON was expected, `Location` for a redirect). Bodies are left to the library's own
 * HTTP client, which reads them bounded.
 */
import type { FetchLike } from '../core/idp/http-client.js';

export interface Exchange {
  /** Origin and path only (a query may carry credentials). */
  url: string;
  /** Local time (epoch ms) the request left and the response headers came back. */
  sentAt: number;
  receivedAt: number;
  /** Undefined when no response came (network error, timeout). */
  status: number | undefined;
  date: string | null;
  contentType: string | null;
  location: string | null;
}

export interface RecordingFetch {
  fetch: FetchLike;
  /** Every exchange so far, in the order the responses came back. */
  exchanges: Exchange[];
  /** The last exchange with `url` (origin and path), if any. */
  last(url: string | URL): Exchange | undefined;
}

export function recordingFetch(fetch: FetchLike, clock: () => number): RecordingFetch {
  const exchanges: Exchange[] = [];
  const recorded: FetchLike = async (input, init) => {
    const url = originAndPath(input);
    const sentAt = clock();
    let response: Response;
    try {
      response = await fetch(input, init);
    } catch (error) {
      exchanges.push({
        url,
        sentAt,
        receivedAt: clock(),
        status: undefined,
        date: null,
        contentType: null,
        location: null,
      });
      throw error;
    }
    const { headers } = response;
    exchanges.push({
      url,
      sentAt,
      receivedAt: clock(),
      status: response.status,
      date: headers.get('date'),
      contentType: headers.get('content-type'),
      location: headers.get('location'),
    });
    return response;
  };
  return {
    fetch: recorded,
    exchanges,
    last: (target) => {
      const url = originAndPath(target);
      return exchanges.findLast((exchange) => exchange.url === url);
    },
  };
}

export function originAndPath(input: string | URL): string {
  try {
    const url = new URL(String(input));
    return `${url.origin}${url.pathname}`;
  } catch {
    return String(input);
  }
}
