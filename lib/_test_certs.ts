// A throwaway CA and a server certificate for localhost, 127.0.0.1 and ::1,
// made with openssl in a temporary directory (once per test process).

export interface TestCerts {
  dir: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  ca: string;
  cert: string;
  key: string;
}

let made: Promise<TestCerts> | undefined;

async function openssl(args: string[], cwd: string): Promise<void> {
  const result = await new Deno.Command("openssl", {
    args,
    cwd,
    stdout: "null",
    stderr: "piped",
  })
    .output();
  if (!result.success) {
    throw new Error(
      `openssl ${args[0]} failed: ${new TextDecoder().decode(result.stderr)}`,
    );
  }
}

/** The test certificates (made on first use). */
export function testCerts(): Promise<TestCerts> {
  return made ??= makeCerts("Echo Test CA");
}

/**
 * A new CA named `caName` and a server certificate it signed for
 * localhost, 127.0.0.1 and ::1, in a new temporary directory.
 */
export async function makeCerts(caName: string): Promise<TestCerts> {
  const ca = await makeCa(caName);
  const server = await issue(ca, {
    cn: "localhost",
    san: "DNS:localhost,IP:127.0.0.1,IP:::1",
  });
  return {
    dir: ca.dir,
    caFile: ca.certFile,
    certFile: server.certFile,
    keyFile: server.keyFile,
    ca: ca.cert,
    cert: server.cert,
    key: server.key,
  };
}

/** A certificate authority the tests make, to issue certificates with. */
export interface TestCa {
  /** Its folder (its certificate and key are `ca.pem` and `ca.key` there). */
  dir: string;
  /** Its certificate, PEM. */
  cert: string;
  /** Its certificate's file. */
  certFile: string;
}

/** A new CA named `name`, in a new temporary directory. */
export async function makeCa(name: string): Promise<TestCa> {
  const dir = await Deno.makeTempDir({ prefix: "echo-ca-" });
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-days",
    "2",
    "-subj",
    `/CN=${name}`,
  ], dir);
  return {
    dir,
    cert: await Deno.readTextFile(`${dir}/ca.pem`),
    certFile: `${dir}/ca.pem`,
  };
}

let issued = 0;

/**
 * A certificate for `cn` signed by `ca`: with `san` (an openssl
 * subjectAltName value, such as `DNS:localhost,IP:127.0.0.1`), valid for
 * `days` (negative: already expired), for a server or a client.
 */
export async function issue(
  ca: TestCa,
  options: { cn: string; san?: string; days?: number; client?: boolean },
): Promise<{ cert: string; key: string; certFile: string; keyFile: string }> {
  const name = `cert${++issued}`;
  const dir = ca.dir;
  await openssl([
    "req",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.csr`,
    "-subj",
    `/CN=${options.cn}`,
  ], dir);
  const ext = [
    options.san ? `subjectAltName=${options.san}` : "",
    `extendedKeyUsage=${options.client ? "clientAuth" : "serverAuth"}`,
  ].filter(Boolean).join("\n");
  await Deno.writeTextFile(`${dir}/${name}.cnf`, ext + "\n");
  await openssl([
    "x509",
    "-req",
    "-in",
    `${name}.csr`,
    "-CA",
    "ca.pem",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-out",
    `${name}.pem`,
    "-days",
    String(options.days ?? 2),
    "-extfile",
    `${name}.cnf`,
  ], dir);
  return {
    cert: await Deno.readTextFile(`${dir}/${name}.pem`),
    key: await Deno.readTextFile(`${dir}/${name}.key`),
    certFile: `${dir}/${name}.pem`,
    keyFile: `${dir}/${name}.key`,
  };
}
