// A Secrets Manager secret whose first value the program generates; later runs leave the value
// alone, so what an operator adds to it, or a rotation, survives `pulumi up`.
import * as aws from '@pulumi/aws';
import * as pulumi from '@pulumi/pulumi';

/** The secret and its first version, both named `name`; `initial` is its JSON object. */
export function generatedSecret(
  name: string,
  args: {
    secretName: pulumi.Input<string>;
    description: string;
    initial: Record<string, string>;
    tags: pulumi.Input<Record<string, pulumi.Input<string>>>;
  },
  parent: pulumi.Resource,
): aws.secretsmanager.Secret {
  const secret = new aws.secretsmanager.Secret(
    name,
    {
      name: args.secretName,
      description: args.description,
      recoveryWindowInDays: 7,
      tags: args.tags,
    },
    { parent },
  );
  new aws.secretsmanager.SecretVersion(
    name,
    { secretId: secret.id, secretString: pulumi.secret(JSON.stringify(args.initial)) },
    { parent, ignoreChanges: ['secretString'] },
  );
  return secret;
}
