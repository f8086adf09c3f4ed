export interface TestCertificates {
  dir: string;
  caFile: string;
  serverCertFile: string;
  serverKeyFile: string;
  clientCertFile: string;
  clientKeyFile: string;
  /** A CA that signed nothing here. */
  otherCaFile: string;
  remove(): void;
}

export function makeCertificates(): TestCertificates;
