package event

// SSHConfigList is a user running the bastion's `config` verb, in the
// gateway's own stream (kind "gateway"): the hosts she was given an
// ssh_config block for. Actor: the user. Meta: user, remote, hosts
// (comma-separated), omitted (hosts left out: their name is not safe in
// ssh_config), prefix.
const SSHConfigList Type = "sshconfig.list"
