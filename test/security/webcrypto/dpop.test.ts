/** test/core/request/dpop.test.ts again, every signature (tokens and DPoP proofs) checked by the WebCrypto backend (see ../../support/webcrypto-backend.ts). */
import '../../support/webcrypto-backend.js';
import '../../core/request/dpop.test.js';
