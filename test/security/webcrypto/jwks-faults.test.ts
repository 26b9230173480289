/** test/core/idp/jwks-faults.test.ts again, every signature checked by the WebCrypto backend (see ../../support/webcrypto-backend.ts). */
import '../../support/webcrypto-backend.js';
import '../../core/idp/jwks-faults.test.js';
