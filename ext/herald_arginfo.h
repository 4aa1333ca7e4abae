/* This is a generated file, edit the .stub.php file instead.
 * Stub hash: be6649ab62e0db1dc27cda26f026caa50bc739ec */

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_sse_emit, 0, 2, _IS_BOOL, 0)
	ZEND_ARG_TYPE_MASK(0, channel, MAY_BE_STRING|MAY_BE_ARRAY, NULL)
	ZEND_ARG_TYPE_INFO(0, data, IS_MIXED, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, event, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, retry, IS_LONG, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_ws_publish, 0, 2, _IS_BOOL, 0)
	ZEND_ARG_TYPE_MASK(0, channel, MAY_BE_STRING|MAY_BE_ARRAY, NULL)
	ZEND_ARG_TYPE_INFO(0, data, IS_MIXED, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, binary, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_publish, 0, 2, _IS_BOOL, 0)
	ZEND_ARG_TYPE_MASK(0, channel, MAY_BE_STRING|MAY_BE_ARRAY, NULL)
	ZEND_ARG_TYPE_INFO(0, data, IS_MIXED, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, event, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, except, IS_STRING, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_last_error, 0, 0, IS_STRING, 1)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_flush, 0, 0, _IS_BOOL, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_token, 0, 1, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, channels, IS_ARRAY, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, ttl, IS_LONG, 0, "3600")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_hook_events, 0, 0, IS_ARRAY, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_send, 0, 2, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, connection, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, data, IS_MIXED, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, binary, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_send_user, 0, 2, _IS_BOOL, 0)
	ZEND_ARG_TYPE_INFO(0, user, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, data, IS_MIXED, 0)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, binary, _IS_BOOL, 0, "false")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_presence, 0, 1, IS_ARRAY, 1)
	ZEND_ARG_TYPE_INFO(0, channel, IS_STRING, 0)
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_MASK_EX(arginfo_herald_mercure_publish, 0, 1, MAY_BE_STRING|MAY_BE_FALSE)
	ZEND_ARG_TYPE_MASK(0, topics, MAY_BE_STRING|MAY_BE_ARRAY, NULL)
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, data, IS_STRING, 0, "\'\'")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, private, _IS_BOOL, 0, "false")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, id, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, type, IS_STRING, 1, "null")
	ZEND_ARG_TYPE_INFO_WITH_DEFAULT_VALUE(0, retry, IS_LONG, 1, "null")
ZEND_END_ARG_INFO()

ZEND_BEGIN_ARG_WITH_RETURN_TYPE_INFO_EX(arginfo_herald_mercure_channel, 0, 1, IS_STRING, 0)
	ZEND_ARG_TYPE_INFO(0, topic, IS_STRING, 0)
ZEND_END_ARG_INFO()


ZEND_FUNCTION(sse_emit);
ZEND_FUNCTION(ws_publish);
ZEND_FUNCTION(herald_publish);
ZEND_FUNCTION(herald_last_error);
ZEND_FUNCTION(herald_flush);
ZEND_FUNCTION(herald_token);
ZEND_FUNCTION(herald_hook_events);
ZEND_FUNCTION(herald_send);
ZEND_FUNCTION(herald_send_user);
ZEND_FUNCTION(herald_presence);
ZEND_FUNCTION(herald_mercure_publish);
ZEND_FUNCTION(herald_mercure_channel);


static const zend_function_entry ext_functions[] = {
	ZEND_FE(sse_emit, arginfo_sse_emit)
	ZEND_FE(ws_publish, arginfo_ws_publish)
	ZEND_FE(herald_publish, arginfo_herald_publish)
	ZEND_FE(herald_last_error, arginfo_herald_last_error)
	ZEND_FE(herald_flush, arginfo_herald_flush)
	ZEND_FE(herald_token, arginfo_herald_token)
	ZEND_FE(herald_hook_events, arginfo_herald_hook_events)
	ZEND_FE(herald_send, arginfo_herald_send)
	ZEND_FE(herald_send_user, arginfo_herald_send_user)
	ZEND_FE(herald_presence, arginfo_herald_presence)
	ZEND_FE(herald_mercure_publish, arginfo_herald_mercure_publish)
	ZEND_FE(herald_mercure_channel, arginfo_herald_mercure_channel)
	ZEND_FE_END
};
