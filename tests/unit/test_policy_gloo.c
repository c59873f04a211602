/* test_policy_gloo.c - Gloo's documents as published and as exported by
 * kubectl load (tests/fixtures/gloo), and the fields that would change what
 * is enforced are still refused by name. Run from the repository root. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "policy.h"
#include "tap.h"

static char tmpdir[64];

static int load_file(const char *path, struct policy_set **set, struct err *e)
{
	const char *pv[1] = {path};

	*set = NULL;
	return policy_set_load(pv, 1, set, e);
}

/* The one policy of a fixture: its name, and the introspection URL it calls. */
static void expect_fixture(const char *path)
{
	struct policy_set *set;
	struct err e = {0};
	const struct policy_introspection *in;

	if (!ok(load_file(path, &set, &e) == 0, path)) {
		printf("#   %s:%d:%d: %s\n", e.file, e.line, e.col, e.msg);
		return;
	}
	is_int(policy_set_count(set), 1, "one policy");
	is_str(policy_name(policy_set_get(set, 0)), "bookinfo/ratings-hydra", "the policy's name");
	in = policy_introspection(policy_set_get(set, 0));
	is_str(in->url, "http://127.0.0.1:4445/admin/oauth2/introspect", "the introspection URL");
	ok(in->client_id == NULL, "no client authentication");
	policy_set_free(set);
}

#define DOC_HEAD                                                                                   \
	"apiVersion: security.policy.gloo.solo.io/v2\n"                                            \
	"kind: ExtAuthPolicy\n"                                                                    \
	"metadata: {name: p}\n"                                                                    \
	"spec:\n"                                                                                  \
	"  config:\n"
#define GLOO                                                                                       \
	"    glooAuth:\n"                                                                          \
	"      configs:\n"                                                                         \
	"      - oauth2:\n"                                                                        \
	"          accessTokenValidation: {introspectionUrl: http://idp/x}\n"

/* Loads <yaml> from a temp file; returns 0 when it loads, else -1 with *e. */
static int load_yaml(const char *yaml, struct err *e)
{
	char path[128];
	struct policy_set *set;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/t.yaml", tmpdir);
	f = fopen(path, "w");
	if (!f || fputs(yaml, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
	rc = load_file(path, &set, e);
	policy_set_free(set);
	unlink(path);
	return rc;
}

static void expect_loads(const char *yaml, const char *what)
{
	struct err e = {0};

	if (!ok(load_yaml(yaml, &e) == 0, what))
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
}

static void expect_refused(const char *yaml, int line, int col, const char *msg, const char *what)
{
	struct err e = {0};

	if (!ok(load_yaml(yaml, &e) < 0, what))
		return;
	is_int(e.line, line, what);
	is_int(e.col, col, what);
	if (!ok(strstr(e.msg, msg) != NULL, what))
		printf("#   message \"%s\" lacks \"%s\"\n", e.msg, msg);
}

static void test_ignored_and_refused(void)
{
	expect_loads(DOC_HEAD
		     "    server: {name: ext-auth-server, namespace: ns, cluster: c1}\n" GLOO,
		     "spec.config.server is ignored");
	expect_loads(DOC_HEAD "    disable: false\n" GLOO, "spec.config.disable: false loads");
	expect_loads(DOC_HEAD GLOO "status: {common: {state: ACCEPTED}}\n", "status is ignored");
	expect_loads("apiVersion: security.policy.gloo.solo.io/v2\nkind: ExtAuthPolicy\n"
		     "metadata: {name: p, uid: x, resourceVersion: '1', generation: 3,\n"
		     "  creationTimestamp: '2026-01-01T00:00:00Z', managedFields: [{manager: k}]}\n"
		     "spec:\n  config:\n" GLOO,
		     "exported metadata is ignored");
	expect_loads(DOC_HEAD "    glooAuth:\n      configs:\n      - name: check\n"
			      "        oauth2:\n"
			      "          accessTokenValidation: {introspectionUrl: http://idp/x}\n",
		     "configs[0].name is ignored");

	/* what would change enforcement stays refused, with its name */
	expect_refused(DOC_HEAD "    disable: true\n" GLOO, 6, 14,
		       "spec.config.disable: true is not supported", "disable: true is refused");
	expect_refused(DOC_HEAD "    disable: maybe\n" GLOO, 6, 14, "unknown value \"maybe\"",
		       "disable: a non-boolean is refused");
	expect_refused(DOC_HEAD "    customAuth: {}\n" GLOO, 6, 5,
		       "\"customAuth\" is not supported", "customAuth is refused");
	expect_refused(
	    "apiVersion: security.policy.gloo.solo.io/v2\nkind: ExtAuthPolicy\n"
	    "metadata: {name: p}\nspec:\n  applyToDestinations: [{port: {number: 9080}}]\n"
	    "  config:\n" GLOO,
	    5, 3, "\"applyToDestinations\" is not supported", "applyToDestinations is refused");
	expect_refused(DOC_HEAD "    glooAuth:\n      booleanExpr: a\n      configs: []\n", 7, 7,
		       "\"booleanExpr\" is not supported", "booleanExpr is refused");
	/* the ignored words only where Kubernetes or Gloo put them */
	expect_refused(DOC_HEAD GLOO "  status: {}\n", 10, 3, "unknown key \"status\" in spec",
		       "status under spec is refused");
	expect_refused(DOC_HEAD GLOO "uid: x\n", 10, 1, "unknown key \"uid\" in the document",
		       "uid at the top is refused");
	expect_refused(DOC_HEAD "    glooAuth:\n      configs:\n      - oauth2:\n"
				"          accessTokenValidation: {introspectionUrl: http://idp/x, "
				"server: a}\n",
		       9, 67, "\"server\" is not supported", "server inside oauth2 is refused");
}

#define ATV_HEAD                                                                                   \
	DOC_HEAD "    glooAuth:\n      configs:\n      - oauth2:\n"                                \
		 "          accessTokenValidation:\n"

/* dynamicMetadataFromClaims and userIdAttributeName load; bad variable names
 * are refused at load with the field named. */
static void test_claims_to_variables(void)
{
	char doc[2048], *p;
	struct policy_set *set = NULL;
	struct err e = {0};
	const char *pv[1];

	expect_loads(ATV_HEAD "            introspectionUrl: http://idp/x\n"
			      "            dynamicMetadataFromClaims: {email: email, "
			      "realm_access.roles: roles}\n",
		     "dynamicMetadataFromClaims loads");
	expect_loads(ATV_HEAD "            introspection:\n"
			      "              introspectionUrl: http://idp/x\n"
			      "              userIdAttributeName: preferred_username\n",
		     "introspection.userIdAttributeName loads");
	expect_refused(ATV_HEAD "            introspectionUrl: http://idp/x\n"
				"            dynamicMetadataFromClaims: {email: client_id}\n",
		       11, 48,
		       "accessTokenValidation.dynamicMetadataFromClaims.email: variable "
		       "\"client_id\": the name of one of the agent's own variables",
		       "a built-in variable's name is refused, the field named");
	expect_refused(ATV_HEAD "            introspectionUrl: http://idp/x\n"
				"            dynamicMetadataFromClaims: {email: x-mail}\n",
		       11, 48, "may only hold A-Z a-z 0-9 _", "a '-' in a name is refused");
	expect_refused(ATV_HEAD "            introspectionUrl: http://idp/x\n"
				"            dynamicMetadataFromClaims: {a: n, b: n}\n",
		       11, 50, "variable \"n\" is mapped twice", "one name twice is refused");
	expect_refused(ATV_HEAD "            introspectionUrl: http://idp/x\n"
				"            dynamicMetadataFromClaims: [email]\n",
		       11, 40, "dynamicMetadataFromClaims must be a mapping", "a list is refused");
	expect_refused(ATV_HEAD "            introspectionUrl: http://idp/x\n"
				"            dynamicMetadataFromClaims: {a..b: n}\n",
		       11, 47, "empty segment", "an empty path segment is refused");
	p = doc + snprintf(doc, sizeof(doc), "%s%s", ATV_HEAD,
			   "            introspectionUrl: http://idp/x\n"
			   "            dynamicMetadataFromClaims:\n");
	for (int i = 0; i < 17; i++)
		p += snprintf(p, sizeof(doc) - (size_t)(p - doc), "              c%d: v%d\n", i, i);
	expect_refused(doc, 28, 15, "more than 16 mapped claims", "a 17th variable is refused");

	/* the mapping is reachable from the policy; none without one */
	snprintf(doc, sizeof(doc), "%s/m.yaml", tmpdir);
	{
		FILE *f = fopen(doc, "w");

		fputs(ATV_HEAD "            introspectionUrl: http://idp/x\n"
			       "            dynamicMetadataFromClaims: {email: email}\n",
		      f);
		fclose(f);
	}
	pv[0] = doc;
	ok(policy_set_load(pv, 1, &set, &e) == 0 && policy_claim_map(policy_set_get(set, 0)),
	   "policy_claim_map() of a mapping policy");
	policy_set_free(set);
	unlink(doc);
}

/* Gloo's introspection.disableClientSecret: true is authMethod none (the
 * clientId still sent in the body); false changes nothing; with a secret or
 * another authMethod it is refused. */
static void test_disable_client_secret(void)
{
	const char *head = ATV_HEAD "            introspection:\n"
				    "              introspectionUrl: http://idp/x\n"
				    "              clientId: agent\n";
	char yaml[1024], path[128];
	struct policy_set *set;
	struct err e = {0};
	FILE *f;

	snprintf(yaml, sizeof(yaml), "%s              disableClientSecret: true\n", head);
	snprintf(path, sizeof(path), "%s/d.yaml", tmpdir);
	f = fopen(path, "w");
	if (!f || fputs(yaml, f) < 0 || fclose(f)) {
		perror(path);
		exit(2);
	}
	if (ok(load_file(path, &set, &e) == 0, "disableClientSecret: true loads")) {
		const struct policy_introspection *in =
		    policy_introspection(policy_set_get(set, 0));

		is_int(in->auth_method, POLICY_AUTH_NONE,
		       "disableClientSecret: true is authMethod none");
		is_str(in->client_id, "agent", "disableClientSecret: the clientId is kept");
		ok(in->client_secret == NULL, "disableClientSecret: no secret");
		policy_set_free(set);
	} else {
		printf("#   %d:%d: %s\n", e.line, e.col, e.msg);
	}
	unlink(path);
	snprintf(yaml, sizeof(yaml),
		 "%s              disableClientSecret: false\n"
		 "              clientSecretEnv: OAUTH2_SPOA_TEST_NO_SUCH_VAR_X\n",
		 head);
	expect_refused(yaml, 14, 32, "OAUTH2_SPOA_TEST_NO_SUCH_VAR_X",
		       "disableClientSecret: false keeps the secret required (and read)");
	snprintf(yaml, sizeof(yaml),
		 "%s              disableClientSecret: true\n"
		 "              clientSecretFile: /nonexistent\n",
		 head);
	expect_refused(yaml, 14, 33, "a client secret is set but disableClientSecret is true",
		       "disableClientSecret: true with a secret is refused");
	snprintf(yaml, sizeof(yaml),
		 "%s              disableClientSecret: true\n"
		 "              authMethod: client_secret_post\n",
		 head);
	expect_refused(yaml, 14, 27, "disableClientSecret: true needs authMethod none",
		       "disableClientSecret: true with client_secret_post is refused");
	snprintf(yaml, sizeof(yaml), "%s              disableClientSecret: yes\n", head);
	expect_refused(yaml, 13, 36, "true or false", "disableClientSecret: yes is refused");
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_policy_gloo.XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	expect_fixture("tests/fixtures/gloo/published.yaml");
	expect_fixture("tests/fixtures/gloo/exported.yaml");
	test_ignored_and_refused();
	test_claims_to_variables();
	test_disable_client_secret();
	rmdir(tmpdir);
	return done_testing("policy_gloo");
}
