/** What every check of the doctor reads: the settings under test and the one recording `fetch`. */
import type { RecordingFetch } from './recording-fetch.js';

export interface DoctorContext {
  /** `issuer` as the user would configure it (`--issuer`). */
  issuer: string;
  audience: string[];
  /** The claim `audience` is matched against (`--audience-claim`, the verifier's `audienceClaim`). */
  audienceClaim: 'aud' | 'client_id';
  /** `allowHttp` (`--allow-http`): plain http on non-loopback hosts. */
  allowHttp: boolean;
  /** Each request to the IdP, in ms (`--timeout`, seconds). */
  timeoutMs: number;
  /** `clockTolerance` in seconds (`--clock-tolerance`, default the library's 5). */
  clockTolerance: number;
  /** `typ` the verifier would require (`--typ`), if any. */
  typ: string | undefined;
  http: RecordingFetch;
  clock: () => number;
  signal: AbortSignal;
}
